import { connectClient, type ClientOptions, type ClientSocket } from "./clients.js";
import { startNginx, type NginxProcess, type StartNginxOptions } from "./nginx.js";
import { startPylon, type PylonProcess } from "./pylon-process.js";
import { startRedis, type RedisProcess } from "./redis.js";
import { waitFor } from "./wait.js";

/** Test sizes: modest in `npm test`, full with PYLON_TEST_SIZE=full (`npm run test:scale`). */
export const FULL_SIZE = process.env.PYLON_TEST_SIZE === "full";

/** Engine heartbeat used by the scale-out tests (fast, so a hold of a few intervals proves heartbeats work). */
export const PING = { interval: 2000, timeout: 2000 };
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
  return { socket, kind, received, disconnects };
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
      .map((l) => `${l.kind}@${ownerNode(l.socket)} missing ${texts.filter((t) => !l.received.has(t)).join(",")}`)
      .join("; ");
    throw new Error(`${missing.length}/${listeners.length} clients missed broadcasts (${detail})`);
  }
}
