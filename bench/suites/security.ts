// Security costs (issue 6), Pylon only: handshakes/s with RS256 verification vs no auth, and echo throughput with the
// security pipeline on (schema validation + rate limits, generous enough that nothing is refused) vs off, on Pylon
// servers this suite starts itself with those configs (same build, same machine, phases interleaved).
// Target: validation and limits cost <= 10% of event throughput. `npm run bench -- --only security --servers pylon`.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io, type Socket } from "socket.io-client";
import { REPO_ROOT } from "../lib/servers.js";
import { pause, type Suite, type SuiteContext } from "../lib/suite.js";
import { CpuMeter, settle } from "../lib/cpu.js";
import type { Socket as ServerSocket } from "socket.io";
import { parseConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { Metrics } from "../../src/observability/metrics.js";
import { SecurityAudit } from "../../src/security/audit.js";
import { Authorizer } from "../../src/security/authz.js";
import { DEMO_EVENTS } from "../../src/security/demo-events.js";
import { EventValidator } from "../../src/security/schemas.js";
import { SocketGuard } from "../../src/security/socket-guard.js";
import { generateSigningKeys, mintToken } from "../../src/security/tokens.js";
import { PylonDecoder } from "../../src/protocol/parser.js";

const notFor = ["socketio", "ws"] as ("socketio" | "ws")[];

interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startConfigured(config: Record<string, unknown>): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "pylon-bench-sec-"));
  const file = join(dir, "pylon.config.json");
  writeFileSync(file, JSON.stringify({ log: { level: "warn" }, drain: { windowMs: 0 }, ...config }));
  const child: ChildProcess = spawn(process.execPath, [join(REPO_ROOT, "dist/cli/main.js"), "serve", "--port", "0", "--host", "127.0.0.1", "--config", file, "--log.level", "info"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pylon did not start:\n${out.slice(-2000)}`)), 20_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => reject(new Error(`pylon exited ${code}:\n${out.slice(-2000)}`)));
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Connects n websocket clients (concurrency c) and disconnects them; returns handshakes/s and server CPU us each. */
async function handshakes(ctx: SuiteContext, server: Server, n: number, c: number, token: string | undefined): Promise<{ perSec: number; cpuUs: number }> {
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const s = io(server.url + "/demo", { transports: ["websocket"], forceNew: true, reconnection: false, ...(token ? { auth: { token } } : {}) });
      await new Promise<void>((resolve) => {
        s.once("connect", () => resolve());
        s.once("connect_error", () => {
          failed++;
          resolve();
        });
      });
      s.disconnect();
    }
  };
  const { cpuUs } = await ctx.cpuOf([server.pid], () => Promise.all(Array.from({ length: c }, worker)));
  const secs = (performance.now() - t0) / 1000;
  if (failed) throw new Error(`${failed} handshakes failed`);
  return { perSec: n / secs, cpuUs: cpuUs / n };
}

/** `clients` sockets keep `inflight` echo/join events outstanding each for `ms`; returns acks/s and server CPU us per echo. */
async function echoes(ctx: SuiteContext, server: Server, clients: number, inflight: number, ms: number): Promise<{ perSec: number; cpuUs: number }> {
  const sockets: Socket[] = [];
  for (let i = 0; i < clients; i++) {
    const s = io(server.url + "/demo", { transports: ["websocket"], forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      s.once("connect", () => resolve());
      s.once("connect_error", reject);
    });
    sockets.push(s);
  }
  const payload = { room: "lobby", text: "hello world", n: 1, tags: ["a", "b"] };
  let acks = 0;
  let running = true;
  let loops: Promise<void>[] = [];
  const t0 = performance.now();
  const { cpuUs: cpu } = await ctx.cpuOf([server.pid], async () => {
    loops = sockets.flatMap((s) =>
      Array.from({ length: inflight }, async () => {
        let k = 0;
        while (running) {
          // alternate echo (schema {}, size and depth limits) and join (room-name pattern): both validated when on
          const r = (await (k++ % 2 ? s.timeout(10_000).emitWithAck("join", "lobby") : s.timeout(10_000).emitWithAck("echo", payload))) as { error?: unknown };
          if (r && typeof r === "object" && "error" in r) throw new Error(`echo refused: ${JSON.stringify(r.error)}`);
          acks++;
        }
      }),
    );
    await pause(ms);
    running = false;
  });
  const secs = (performance.now() - t0) / 1000;
  const acked = acks; // acks inside the CPU window (the ones still in flight finish below, unmeasured)
  await Promise.all(loops);
  for (const s of sockets) s.disconnect();
  return { perSec: acked / secs, cpuUs: cpu / Math.max(1, acked) };
}

/**
 * The security pipeline alone, in this process: the same SocketGuard check Pylon runs per event (wire size,
 * three token buckets, schema, depth), fed the echo/join frames of the throughput phase, decoded beforehand. Returns ns per event.
 * The stand-in socket has only what the guard reads (namespace name, connected, data, id, conn).
 */
function pipelineNsPerEvent(n: number): number {
  const config = parseConfig({ security: { rateLimit: { enabled: true, eventsPerSec: 1e6, eventBurst: 1e6, bytesPerSec: 1e9, byteBurst: 1e9 } } });
  const metrics = new Metrics({ ...config.metrics, processMetrics: false });
  const audit = new SecurityAudit(createLogger({ level: "silent", pretty: "never" }, { isTTY: false }), metrics);
  const validator = new EventValidator(config.security.events, { "/demo": DEMO_EVENTS });
  const socket = { nsp: { name: "/demo" }, connected: true, data: {}, id: "bench", conn: {} } as unknown as ServerSocket;
  const guard = new SocketGuard(socket, {
    config: config.security,
    audit,
    validator,
    authorizer: new Authorizer(config.security.authz),
    authEnabled: false,
    closed: false,
    refresh: () => undefined,
    address: () => "127.0.0.1",
  });
  const payload = { room: "lobby", text: "hello world", n: 1, tags: ["a", "b"] };
  const frames = ['2/demo,12["echo",' + JSON.stringify(payload) + "]", '2/demo,13["join","lobby"]'];
  let passed = 0;
  const next = (): void => {
    passed++;
  };
  const ack = (): void => undefined;
  // decoded before the clock starts (decoding is not the guard's cost): each event array carries its wire size
  const decoder = new PylonDecoder();
  const events = Array.from({ length: n }, (_, i) => {
    const data = decoder.decodeText(frames[i % 2]!)!.data;
    data.push(ack);
    return data;
  });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (guard.check(events[i]!)) next();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  metrics.close();
  if (passed !== n) throw new Error(`pipeline refused ${n - passed} events`);
  return ns;
}

/** Both servers idle (closes of the previous phase processed) before the next CPU window. */
const quiet = (...servers: Server[]): Promise<number> => settle(servers.map((s) => new CpuMeter(s.pid)));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export const securitySuite: Suite = {
  name: "security",
  servers: ["pylon"],
  ownServers: true,
  figures: [
    { id: "security.handshake.none.per_s", label: "handshakes/s, no auth (websocket)", unit: "/s", better: "higher", notFor },
    { id: "security.handshake.rs256.per_s", label: "handshakes/s, RS256 JWT verified (websocket)", unit: "/s", better: "higher", notFor },
    { id: "security.handshake.rs256.cpu_us_per_conn", label: "server CPU us per handshake, RS256", unit: "us", better: "lower", notFor },
    { id: "security.handshake.none.cpu_us_per_conn", label: "server CPU us per handshake, no auth", unit: "us", better: "lower", notFor },
    { id: "security.events.off.per_s", label: "echo/s, validation and limits off", unit: "/s", better: "higher", notFor },
    { id: "security.events.on.per_s", label: "echo/s, validation and limits on", unit: "/s", better: "higher", notFor },
    { id: "security.events.off.cpu_us_per_op", label: "server CPU us per echo, security off", unit: "us", better: "lower", notFor },
    { id: "security.events.on.cpu_us_per_op", label: "server CPU us per echo, security on", unit: "us", better: "lower", notFor },
    { id: "security.events.cost_pct", label: "server CPU per echo, on vs off (%; noisy end to end)", unit: "%", better: "lower", notFor },
    { id: "security.events.pipeline_ns", label: "security pipeline alone, ns per event (in process)", unit: "ns", better: "lower", notFor },
    { id: "security.events.pipeline_pct", label: "security pipeline alone, % of server CPU per echo (off)", unit: "%", better: "lower", notFor },
  ],
  async run(ctx: SuiteContext) {
    if (ctx.kind !== "pylon") return;
    const reps = ctx.quick ? 1 : 2; // interleaved off/on inside each of the runner's repetitions
    if (ctx.wants("security.handshake")) {
      const keys = await generateSigningKeys("RS256");
      const token = await mintToken({ privatePem: keys.privatePem, kid: keys.kid, sub: "bench", ttlSec: 3600 });
      const n = ctx.quick ? 300 : 2000;
      const plain = await startConfigured({});
      const rs = await startConfigured({ security: { jwt: { mode: "required", publicKey: keys.publicPem } } });
      try {
        const none: { perSec: number; cpuUs: number }[] = [];
        const rs256: { perSec: number; cpuUs: number }[] = [];
        await handshakes(ctx, plain, 50, 10, undefined); // warm-up
        await handshakes(ctx, rs, 50, 10, token);
        for (let i = 0; i < reps; i++) {
          await quiet(plain, rs);
          none.push(await handshakes(ctx, plain, n, 50, undefined));
          await quiet(plain, rs);
          rs256.push(await handshakes(ctx, rs, n, 50, token));
        }
        const r = { none: median(none.map((x) => x.perSec)), rs: median(rs256.map((x) => x.perSec)) };
        ctx.log(`security handshakes/s: none ${r.none.toFixed(0)}, RS256 ${r.rs.toFixed(0)}`);
        ctx.record("security.handshake.none.per_s", r.none);
        ctx.record("security.handshake.rs256.per_s", r.rs);
        ctx.record("security.handshake.none.cpu_us_per_conn", median(none.map((x) => x.cpuUs)));
        ctx.record("security.handshake.rs256.cpu_us_per_conn", median(rs256.map((x) => x.cpuUs)));
      } finally {
        await plain.stop();
        await rs.stop();
      }
    }
    if (ctx.wants("security.events")) {
      const ms = ctx.quick ? 2000 : 5000;
      const off = await startConfigured({ security: { events: { validate: false } } });
      const on = await startConfigured({
        security: { rateLimit: { enabled: true, eventsPerSec: 1_000_000, eventBurst: 1_000_000, bytesPerSec: 1_000_000_000, byteBurst: 1_000_000_000 } },
      });
      try {
        const offRuns: { perSec: number; cpuUs: number }[] = [];
        const onRuns: { perSec: number; cpuUs: number }[] = [];
        await echoes(ctx, off, 10, 10, 500); // warm-up
        await echoes(ctx, on, 10, 10, 500);
        for (let i = 0; i < reps; i++) {
          await quiet(off, on);
          offRuns.push(await echoes(ctx, off, 20, 20, ms));
          await quiet(off, on);
          onRuns.push(await echoes(ctx, on, 20, 20, ms));
        }
        const cpuOff = median(offRuns.map((x) => x.cpuUs));
        const cpuOn = median(onRuns.map((x) => x.cpuUs));
        ctx.log(`security echo/s: off ${median(offRuns.map((x) => x.perSec)).toFixed(0)} (${cpuOff.toFixed(1)} us), on ${median(onRuns.map((x) => x.perSec)).toFixed(0)} (${cpuOn.toFixed(1)} us)`);
        ctx.record("security.events.off.per_s", median(offRuns.map((x) => x.perSec)));
        ctx.record("security.events.on.per_s", median(onRuns.map((x) => x.perSec)));
        ctx.record("security.events.off.cpu_us_per_op", cpuOff);
        ctx.record("security.events.on.cpu_us_per_op", cpuOn);
        ctx.record("security.events.cost_pct", ((cpuOn - cpuOff) / cpuOff) * 100);
        pipelineNsPerEvent(50_000); // warm-up (JIT)
        const ns = median([pipelineNsPerEvent(200_000), pipelineNsPerEvent(200_000), pipelineNsPerEvent(200_000)]);
        ctx.log(`security pipeline alone: ${ns.toFixed(0)} ns/event = ${((ns / 1000 / cpuOff) * 100).toFixed(1)}% of ${cpuOff.toFixed(1)} us per echo`);
        ctx.record("security.events.pipeline_ns", ns);
        ctx.record("security.events.pipeline_pct", (ns / 1000 / cpuOff) * 100);
      } finally {
        await off.stop();
        await on.stop();
      }
    }
  },
};
