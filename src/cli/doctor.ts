import { readFileSync } from "node:fs";
import { CHECK_NAMES, renderDoctor, runDoctor } from "../ops/doctor.js";
import { parseBytes, parseDuration } from "../ops/duration.js";
import { EXIT, parseUrlCommand, type Io } from "./output.js";

const USAGE = `usage: pylon doctor <url> [options]
  Probes a live deployment through whatever proxy is in front of it and prints each finding with evidence and fix.
  --path P              Engine.IO path (default /socket.io/)
  --idle-max DUR        longest the idle check holds a quiet connection (default 70s)
  --timeout DUR         timeout of one request (default 10s)
  --origin URL          your application's origin (the CORS check expects it accepted)
  --nodes URL,URL       direct node URLs for the cross-node check (default: spread through <url>)
  --clients-per-node N  clients per node in the cross-node check (default 3)
  --namespace NS        namespace with the demo contract join/say (default /demo)
  --token JWT           handshake token (auth.token) when namespaces require one (pylon token mint)
  --admin-token T       the nodes' admin.token, to read /api/nodes when they set one
  --polls N             sequential in-session requests in the affinity check (default 8)
  --payload-cap SIZE    largest message the payload check sends (default 8mb)
  --cert-warn-days N    warn when the certificate expires sooner (default 14)
  --ca FILE             extra CA certificate (PEM) to trust;  --insecure: accept any certificate
  --checks a,b          run only these checks (${CHECK_NAMES.join(", ")})
  --json                machine-readable report;  --verbose: evidence for passing checks too
  --strict              exit 1 on warnings too
exit status: 0 no failure, 1 a check failed (or a warning with --strict), 2 usage error`;

/** `pylon doctor <url>`: thin wrapper over runDoctor(). `progress`: one line per finished check on stderr (TTY). */
export async function doctorCommand(argv: readonly string[], io: Io, progress: boolean = process.stderr.isTTY === true): Promise<number> {
  const cmd = parseUrlCommand("doctor", argv, {
    path: { type: "string", default: "/socket.io/" },
    "idle-max": { type: "string", default: "70s" },
    timeout: { type: "string", default: "10s" },
    origin: { type: "string" },
    nodes: { type: "string" },
    "clients-per-node": { type: "string", default: "3" },
    namespace: { type: "string", default: "/demo" },
    token: { type: "string" },
    "admin-token": { type: "string" },
    polls: { type: "string", default: "8" },
    "payload-cap": { type: "string", default: "8mb" },
    "cert-warn-days": { type: "string", default: "14" },
    ca: { type: "string" },
    insecure: { type: "boolean", default: false },
    checks: { type: "string" },
    json: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    strict: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  } as const, USAGE, io);
  if (typeof cmd === "number") return cmd;
  const { url, values: v, bad } = cmd;
  let base: URL;
  let nodes: URL[];
  try {
    base = new URL(url);
    nodes = (v.nodes ?? "").split(",").filter(Boolean).map((n) => new URL(n));
  } catch {
    return bad("invalid URL");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") return bad("the URL must be http:// or https://");
  const idleMaxMs = parseDuration(v["idle-max"], "s");
  const timeoutMs = parseDuration(v.timeout, "s");
  const payloadCap = parseBytes(v["payload-cap"]);
  const ints = { clientsPerNode: Number(v["clients-per-node"]), polls: Number(v.polls), certWarnDays: Number(v["cert-warn-days"]) };
  if (idleMaxMs === undefined || idleMaxMs < 1000 || idleMaxMs > 600_000) return bad("--idle-max must be between 1s and 600s");
  if (timeoutMs === undefined || timeoutMs < 100) return bad("--timeout must be at least 100ms");
  if (payloadCap === undefined || payloadCap < 1024) return bad("--payload-cap must be at least 1kb");
  for (const [k, n] of Object.entries(ints)) if (!Number.isInteger(n) || n < 1 || n > 1000) return bad(`--${k} must be an integer 1..1000`);
  const only = v.checks ? v.checks.split(",").map((s) => s.trim()).filter(Boolean) : [];
  const unknown = only.filter((c) => !CHECK_NAMES.includes(c));
  if (unknown.length) return bad(`unknown check(s): ${unknown.join(", ")}`);
  let ca: Buffer | undefined;
  if (v.ca) {
    try {
      ca = readFileSync(v.ca);
    } catch (err) {
      return bad(`cannot read --ca: ${(err as Error).message}`);
    }
  }
  const report = await runDoctor({
    target: { base, path: v.path.endsWith("/") ? v.path : v.path + "/", insecure: v.insecure, ...(ca ? { ca } : {}) },
    idleMaxMs,
    timeoutMs,
    affinityPolls: ints.polls,
    rttSamples: 15,
    ...(v.origin ? { origin: v.origin } : {}),
    nodes,
    payloadCapBytes: payloadCap,
    clientsPerNode: ints.clientsPerNode,
    demoNamespace: v.namespace,
    ...(v.token ? { token: v.token } : {}),
    ...(v["admin-token"] ? { adminToken: v["admin-token"] } : {}),
    certWarnDays: ints.certWarnDays,
    only,
    onFinding: (f) => {
      if (progress && !v.json) io.err(`  ${f.name}: ${f.skipped ? "skipped" : f.ok ? "ok" : f.severity} (${(f.durationMs / 1000).toFixed(1)} s)`);
    },
  });
  io.out(v.json ? JSON.stringify(report, null, 2) : renderDoctor(report, v.verbose));
  return report.errors > 0 || (v.strict && report.warnings > 0) ? EXIT.failed : EXIT.ok;
}
