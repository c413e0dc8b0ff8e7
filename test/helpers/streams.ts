// Helpers of the delivery (streams/commands) test suites: fixture nodes, HTTP publishers, chaos on SDK clients,
// Redis CLIENT KILL by connection name, and the fault-suite driver shared by `npm test` and `npm run test:guarantees`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { Redis } from "ioredis";
import { spawnTracked, type TrackedChild } from "./child.js";
import { freePort } from "./ports.js";
import { REPO_ROOT, tempDir } from "./paths.js";
import { waitFor } from "./wait.js";

export const FIXTURE_NODE = join(REPO_ROOT, "test", "fixtures", "delivery-node.mjs");

export interface DeliveryNode {
  nodeId: string;
  port: number;
  url: string;
  child(): TrackedChild;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port with the same node id. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

function nodeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === "PORT" || (k.startsWith("PYLON_") && !k.startsWith("PYLON_TEST_")) || k === "NODE_OPTIONS" || k === "NODE_TEST_CONTEXT") continue;
    env[k] = v;
  }
  return { ...env, PYLON_LOG_LEVEL: "info" };
}

/** Spawns test/fixtures/delivery-node.mjs (pylon serve + command handlers) and waits until it listens. */
export async function startDeliveryNode(opts: { nodeId: string; config: Record<string, unknown>; host?: string; port?: number; args?: string[] }): Promise<DeliveryNode> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort());
  const dir = tempDir("pylon-delivery-");
  const file = join(dir, "pylon.config.json");
  writeFileSync(file, JSON.stringify(opts.config, null, 2));
  let current: TrackedChild | undefined;
  let history = "";
  const launch = async (): Promise<void> => {
    if (current) history += current.stdout() + current.stderr();
    const args = [FIXTURE_NODE, "serve", "--port", String(port), "--host", host, "--config", file, "--node-id", opts.nodeId, ...(opts.args ?? [])];
    current = spawnTracked(process.execPath, args, `delivery-node-${opts.nodeId}`, { cwd: dir, env: nodeEnv() });
    const c = current;
    await waitFor(() => {
      if (!c.alive()) throw new Error(`delivery node ${opts.nodeId} exited:\n${c.stdout()}${c.stderr()}`);
      return /listening on http:\/\//.test(c.stdout());
    }, { timeoutMs: 20_000, intervalMs: 50, message: `delivery node ${opts.nodeId} listening` }).catch((err: Error) => {
      c.signal("SIGKILL");
      throw new Error(`${err.message}\n${c.stdout()}${c.stderr()}`);
    });
  };
  await launch();
  return {
    nodeId: opts.nodeId,
    port,
    url: `http://${host}:${port}`,
    child: () => current!,
    kill: async () => {
      await current!.stop("SIGKILL", 5000);
    },
    restart: launch,
    stop: async () => {
      await current!.stop("SIGTERM", 10_000);
    },
    logs: () => history + current!.stdout() + current!.stderr(),
  };
}

/** Closes every Redis connection whose CLIENT SETNAME starts with `namePrefix`; returns how many were killed. */
export async function redisClientKill(redisUrl: string, namePrefix: string): Promise<number> {
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await r.connect();
    const list = (await r.client("LIST")) as string;
    let killed = 0;
    for (const line of list.split("\n")) {
      const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "";
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      if (id && name.startsWith(namePrefix)) {
        killed += Number(await r.client("KILL", "ID", id));
      }
    }
    return killed;
  } finally {
    r.disconnect();
  }
}

/** A keep-alive HTTP publisher: POST /api/streams/:name {event, data, id}. */
export class HttpPublisher {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  publish(baseUrl: string, stream: string, body: { event: string; data: unknown; id: string }, timeoutMs = 5000): Promise<{ epoch: string; seq: number; duplicate: boolean }> {
    const u = new URL(`/api/streams/${encodeURIComponent(stream)}`, baseUrl);
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent: this.agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }, timeout: timeoutMs },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () => {
            if (res.statusCode !== 200) return reject(new Error(`publish ${res.statusCode}: ${text}`));
            try {
              resolve(JSON.parse(text) as { epoch: string; seq: number; duplicate: boolean });
            } catch (err) {
              reject(err as Error);
            }
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("publish timeout")));
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** FNV-1a over a sequence of strings: the per-(client, stream) fingerprint of what was delivered, in order. */
export function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}
export const FNV_SEED = 2166136261;

/** Percentile of a sorted array. */
export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * A userspace stand-in for `netem delay D loss L%` where the kernel has no netem qdisc: a TCP proxy that delivers
 * every chunk, in order, `delayMs` after it arrived, and holds `lossPct`% of chunks for an extra retransmission
 * timeout (200-400 ms, as TCP does after a lost segment). Both directions.
 */
export async function startDelayProxy(opts: { host: string; targetHost: string; targetPort: number; delayMs: number; lossPct: number }): Promise<DelayProxy> {
  const { createServer, connect } = await import("node:net");
  const sockets = new Set<import("node:net").Socket>();
  // one FIFO and one timer per direction: chunks leave strictly in arrival order (separate timers could reorder
  // chunks that fall due at the same millisecond)
  const pipe = (from: import("node:net").Socket, to: import("node:net").Socket): void => {
    const queue: { chunk: Buffer | null; due: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let due = 0;
    const drain = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (to.destroyed) continue;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
      if (queue.length > 0) {
        timer = setTimeout(drain, queue[0]!.due - now);
        timer.unref();
      }
    };
    const push = (chunk: Buffer | null, extra: number): void => {
      due = Math.max(Date.now() + opts.delayMs + extra, due);
      queue.push({ chunk, due });
      if (timer === undefined) {
        timer = setTimeout(drain, Math.max(0, queue[0]!.due - Date.now()));
        timer.unref();
      }
    };
    from.on("data", (chunk: Buffer) => push(chunk, Math.random() * 100 < opts.lossPct ? 200 + Math.random() * 200 : 0));
    from.on("end", () => push(null, 0));
  };
  const server = createServer((client) => {
    const upstream = connect({ host: opts.targetHost, port: opts.targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", () => setTimeout(close, opts.delayMs).unref());
    upstream.on("close", () => setTimeout(close, opts.delayMs).unref());
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, opts.host, () => resolve());
  });
  const port = (server.address() as import("node:net").AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
