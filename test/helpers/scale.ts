import { connectClient, type ClientOptions, type ClientSocket } from "./clients.js";
import { startNginx, type NginxProcess, type StartNginxOptions } from "./nginx.js";
import { startPylon, type PylonProcess } from "./pylon-process.js";
import { startRedis, type RedisProcess } from "./redis.js";
import { waitFor } from "./wait.js";

/** Test sizes: modest in `npm test`, full with PYLON_TEST_SIZE=full (`npm run test:scale`). */
export const FULL_SIZE = process.env.PYLON_TEST_SIZE === "full";

/**
 * Engine heartbeat used by the scale-out tests: fast, so a hold of a few intervals proves heartbeats work through
 * forwarding. Full size (300 clients in the test process, on a shared 2-core machine) uses 5 s so a busy event loop
 * is not mistaken for a dead client; 30 s still holds 6 heartbeats.
 */
export const PING = FULL_SIZE ? { interval: 5000, timeout: 5000 } : { interval: 2000, timeout: 2000 };
export const PING_ARGS = ["--engine.pingInterval", String(PING.interval), "--engine.pingTimeout", String(PING.timeout)];

export interface ScaleCluster {
  redis: RedisProcess;
  nodes: PylonProcess[];
  nginx: NginxProcess;
}

/** Real redis-server, n Pylon nodes on it (node ids n1..nN), real nginx in front (round robin, no affinity by default). */
export async function startScaleCluster(opts: { nodes?: number; args?: string[]; nginx?: Partial<StartNginxOptions> } = {}): Promise<ScaleCluster> {
  const redis = await startRedis();
  const nodes = await Promise.all(
    Array.from({ length: opts.nodes ?? 3 }, (_, i) =>
      startPylon({ args: ["--redis-url", redis.url, "--node-id", `n${i + 1}`, ...PING_ARGS, ...(opts.args ?? [])] }),
    ),
  );
  await Promise.all(nodes.map((n) => waitReady(n.url)));
  const nginx = await startNginx({ upstreams: nodes.map((n) => `127.0.0.1:${n.port}`), affinity: "none", ...opts.nginx });
  return { redis, nodes, nginx };
}

/** Waits until GET /readyz answers 200 (the backplane round trip is proven). */
export async function waitReady(url: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs, message: `${url}/readyz 200` });
}

export async function readyzStatus(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/readyz`)).status;
  } catch {
    return 0;
  }
}

/** The node that owns a client's Engine.IO session (session ids are `<nodeId>.<random>`). */
export function ownerNode(socket: ClientSocket): string {
  return (socket.io.engine.id ?? "").split(".")[0] ?? "";
}

/** A client that records every demo `message` text it receives and every disconnect. */
export interface Listener {
  socket: ClientSocket;
  kind: string;
  /** Owner node of the first session (for diagnostics after a disconnect). */
  firstOwner: string;
  received: Set<string>;
  disconnects: string[];
}

export async function connectListener(url: string, kind: "polling" | "websocket" | "upgrade", room: string, opts: ClientOptions = {}): Promise<Listener> {
  const received = new Set<string>();
  const disconnects: string[] = [];
  const transports = kind === "polling" ? ["polling"] : kind === "websocket" ? ["websocket"] : ["polling", "websocket"];
  const socket = await connectClient(`${url}/demo`, {
    transports,
    ...opts,
    onCreate: (s) => {
      s.on("message", (m: { text: string }) => received.add(m.text));
      s.on("disconnect", (reason: string) => disconnects.push(reason));
    },
  });
  const ack = (await socket.timeout(10_000).emitWithAck("join", room)) as { ok?: boolean };
  if (!ack?.ok) throw new Error(`join ${room} failed: ${JSON.stringify(ack)}`);
  return { socket, kind, firstOwner: ownerNode(socket), received, disconnects };
}

/** Connects n listeners split evenly over polling-only, websocket-only and default (upgrade) clients. */
export async function connectListeners(url: string, n: number, room: string, opts: ClientOptions = {}, concurrency = 20): Promise<Listener[]> {
  const kinds = ["polling", "websocket", "upgrade"] as const;
  const out: Listener[] = new Array<Listener>(n);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < n) {
      const i = next++;
      try {
        out[i] = await connectListener(url, kinds[i % 3]!, room, opts);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (failed !== undefined) {
    for (const l of out) l?.socket.disconnect();
    throw failed;
  }
  return out;
}

/** Waits until every listener has every text; the error names how many are missing where. */
export async function waitAllReceived(listeners: Listener[], texts: string[], timeoutMs = 10_000): Promise<void> {
  try {
    await waitFor(() => listeners.every((l) => texts.every((t) => l.received.has(t))), { timeoutMs, intervalMs: 50 });
  } catch {
    const missing = listeners.filter((l) => !texts.every((t) => l.received.has(t)));
    const detail = missing
      .slice(0, 5)
      .map((l) => `${l.kind}@${ownerNode(l.socket) || `closed(was ${l.firstOwner})`} missing ${texts.filter((t) => !l.received.has(t)).join(",")}${l.disconnects.length ? ` (disconnects: ${l.disconnects.join(",")})` : ""}`)
      .join("; ");
    throw new Error(`${missing.length}/${listeners.length} clients missed broadcasts (${detail})`);
  }
}

/** A one-paragraph summary of what the nodes and nginx saw, for failure messages. */
export async function clusterDiagnostics(c: ScaleCluster): Promise<string> {
  const { scrapeMetrics, parseKey } = await import("./metrics.js");
  const out: string[] = [];
  for (const [i, n] of c.nodes.entries()) {
    if (!n.alive()) {
      out.push(`node ${i + 1}: dead`);
      continue;
    }
    try {
      const m = await scrapeMetrics(n.url);
      const pick = [...m.entries()]
        .filter(([k, v]) => v > 0 && /^pylon_(engine_closes_total|session_forwards_total|session_foreign_refused_total|session_poll_handoffs_total|engine_connection_errors_total|disconnects_total)/.test(k))
        .map(([k, v]) => `${parseKey(k).name.replace("pylon_", "")}${JSON.stringify(parseKey(k).labels)}=${v}`);
      out.push(`node ${i + 1}: ${pick.join(" ")}`);
    } catch (err) {
      out.push(`node ${i + 1}: metrics failed ${(err as Error).message}`);
    }
  }
  const statuses = new Map<string, number>();
  for (const line of c.nginx.logs().split("\n")) {
    const m = /" (\d{3}) /.exec(line);
    if (m) statuses.set(m[1]!, (statuses.get(m[1]!) ?? 0) + 1);
  }
  out.push(`nginx statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  const errs = c.nginx.logs().split("\n").filter((l) => /\[(error|warn)\]/.test(l)).slice(0, 5);
  if (errs.length) out.push(`nginx errors: ${errs.join(" | ")}`);
  return out.join("\n");
}
