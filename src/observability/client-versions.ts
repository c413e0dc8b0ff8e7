import type { IncomingMessage } from "node:http";

/**
 * Client library identification from the handshake request, for version-mismatch detection. Every value comes from a
 * small fixed set (or a bounded set of `major.minor` versions), so label cardinality stays bounded.
 */
export interface ClientIdentity {
  /** Engine.IO protocol revision: "3" (socket.io v2/v3 clients with allowEIO3) or "4". */
  eio: string;
  /** Client family from the User-Agent (browser, node, python, java, swift, dart, go, curl, other, none). */
  client: string;
  /** `major.minor` from a `v` query parameter some client SDKs send, or "unknown". */
  version: string;
}

const FAMILIES: [RegExp, string][] = [
  [/^Mozilla\//, "browser"],
  [/node-XMLHttpRequest|^node|undici/i, "node"],
  [/python|aiohttp|requests\//i, "python"],
  [/okhttp|java|dalvik/i, "java"],
  [/CFNetwork|Darwin|swift|SocketIO/i, "swift"],
  [/Dart/i, "dart"],
  [/Go-http-client/i, "go"],
  [/curl|wget/i, "curl"],
];

export function clientFamily(userAgent: string | undefined): string {
  if (!userAgent) return "none";
  for (const [re, name] of FAMILIES) if (re.test(userAgent)) return name;
  return "other";
}

const VERSION_RE = /^v?(\d{1,3})\.(\d{1,3})/;

/** Classifies a handshake. `knownVersions` bounds the distinct versions (the caller keeps it per Pylon). */
export function identifyClient(req: IncomingMessage | undefined, protocol: number, knownVersions: Set<string>, maxVersions = 32): ClientIdentity {
  const eio = protocol === 3 ? "3" : "4";
  const ua = req?.headers?.["user-agent"];
  const client = clientFamily(typeof ua === "string" ? ua : undefined);
  let version = "unknown";
  const url = req?.url;
  if (url && url.includes("v=")) {
    const v = new URL(url, "http://x").searchParams.get("v");
    const m = v ? VERSION_RE.exec(v) : null;
    if (m) {
      const mm = `${m[1]}.${m[2]}`;
      if (knownVersions.has(mm) || knownVersions.size < maxVersions) {
        knownVersions.add(mm);
        version = mm;
      } else version = "other";
    }
  }
  return { eio, client, version };
}
