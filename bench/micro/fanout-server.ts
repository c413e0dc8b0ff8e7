// Server side of bench/micro/fanout.ts (one process per run). Usage (through tsx):
//   fanout-server.ts <kind> <port>   kind = pylon | pylon-nofast | pylon-core | pylon-flow | socketio | ws
// Every connection joins room "r" (namespace "/"). Commands arrive over IPC:
//   { cmd: "gc" }                                    -> { heapUsed, rss, connections }
//   { cmd: "run", ticks, burst }                     -> { cpuUs, deliveries }  (ticks x burst broadcasts to "r")
// CPU is this process's user+sys time from the first broadcast until every connection's pending data left user space.
import { createServer } from "node:http";
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { Server, type Socket } from "socket.io";
import { WebSocketServer, type WebSocket } from "ws";
import { createPylon } from "../../src/server/pylon.js";
import { defaultModules } from "../../src/server/modules.js";
import { parseConfig } from "../../src/config/index.js";
import { WritePathModule } from "../../src/transport/write-path-module.js";
import { FlowModule } from "../../src/flow/flow-module.js";

const kind = process.argv[2] ?? "pylon";
const port = Number(process.argv[3] ?? 0);
const PAYLOAD = { t: 1, text: "hello from the fan-out micro bench" };

function flowModules(): [WritePathModule, FlowModule] {
  const writePath = new WritePathModule();
  return [writePath, new FlowModule(writePath)];
}

interface Impl {
  port: number;
  count(): number;
  broadcast(): void;
  pending(): number;
}

async function start(): Promise<Impl> {
  if (kind === "ws") {
    const room = new Set<WebSocket>();
    const wss = new WebSocketServer({ port, host: "127.0.0.1", perMessageDeflate: false });
    wss.on("connection", (ws) => {
      room.add(ws);
      ws.on("close", () => room.delete(ws));
    });
    await new Promise((r) => wss.once("listening", r));
    return {
      port: (wss.address() as { port: number }).port,
      count: () => room.size,
      broadcast: () => {
        const msg = JSON.stringify(["message", PAYLOAD]);
        for (const ws of room) ws.send(msg);
      },
      pending: () => {
        let p = 0;
        for (const ws of room) p += ws.bufferedAmount;
        return p;
      },
    };
  }
  let io: Server;
  let boundPort: number;
  if (kind === "socketio") {
    const http = createServer();
    io = new Server(http, { pingInterval: 300_000, pingTimeout: 300_000 });
    await new Promise<void>((r) => http.listen(port, "127.0.0.1", r));
    boundPort = (http.address() as { port: number }).port;
  } else {
    const config = parseConfig({
      server: { port, host: "127.0.0.1", demo: false },
      log: { level: "warn" },
      engine: { pingInterval: 300_000, pingTimeout: 300_000, freeHandshakeRequest: process.env.BENCH_FREE_REQUEST !== "0" },
      flow: kind === "pylon-nofast" ? { fastPath: false, coalesce: false } : {},
    });
    // pylon-core: only the composer's built-in modules; pylon-flow: plus write-path and flow (to attribute memory)
    const modules =
      kind === "pylon-core" ? [] : kind === "pylon-flow" ? flowModules() : defaultModules(config);
    const pylon = createPylon(config, { modules });
    boundPort = (await pylon.start()).port;
    io = pylon.io as unknown as Server;
  }
  const nsp = io.of("/");
  nsp.on("connection", (s: Socket) => void s.join("r"));
  return {
    port: boundPort,
    count: () => nsp.sockets.size,
    broadcast: () => void nsp.to("r").emit("message", PAYLOAD),
    pending: () => {
      let p = 0;
      for (const s of nsp.sockets.values()) {
        const conn = s.conn as unknown as { writeBuffer: unknown[]; transport: { socket?: { bufferedAmount: number } } };
        p += conn.writeBuffer.length + (conn.transport.socket?.bufferedAmount ?? 0);
      }
      return p;
    },
  };
}

const impl = await start();
const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
let onRunDone: ((r: unknown) => void) | undefined;
function runBroadcasts(ticks: number, burst: number): void {
  const n = impl.count();
  const t0 = cpu();
  let tick = 0;
  const finish = (r: unknown): void => {
    const cb = onRunDone;
    onRunDone = undefined;
    if (cb) cb(r);
    else process.send!(r);
  };
  const step = (): void => {
    for (let b = 0; b < burst; b++) impl.broadcast();
    if (++tick < ticks) {
      setImmediate(step);
      return;
    }
    const settle = (): void => {
      if (impl.pending() > 0) {
        setTimeout(settle, 2);
        return;
      }
      // let write callbacks and drain chains run, then read the clock
      setTimeout(() => finish({ cpuUs: cpu() - t0, deliveries: ticks * burst * n }), 20);
    };
    setTimeout(settle, 2);
  };
  step();
}
process.on("message", (m: { cmd: string; ticks?: number; burst?: number }) => {
  if (m.cmd === "gc") {
    (globalThis as { gc?: () => void }).gc?.();
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    process.send!({ heapUsed: mem.heapUsed, rss: mem.rss, connections: impl.count() });
    return;
  }
  if (m.cmd === "profile") {
    // profile one run only (not start-up): { cmd: "profile", file, ticks, burst }
    const { file, ticks, burst } = m as unknown as { file: string; ticks: number; burst: number };
    void (async () => {
      const session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 100 });
      await session.post("Profiler.start");
      const done = new Promise<unknown>((r) => (onRunDone = r));
      runBroadcasts(ticks, burst);
      const result = await done;
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      process.send!(result);
    })();
    return;
  }
  if (m.cmd === "run") runBroadcasts(m.ticks ?? 100, m.burst ?? 1);
});
process.send!({ ready: true, port: impl.port });
