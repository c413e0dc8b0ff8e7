// `npx tsx bench/cpu-check.ts [--reps N]`: checks the bench's server CPU reading (lib/cpu.ts: schedstat of every
// thread, read from /proc, ns) against the server's own process.cpuUsage() (getrusage, all threads, asked over the
// probe's IPC channel) and against /proc/<pid>/stat (clock ticks), on the three bench servers, over the same windows:
// 1,000 websocket handshakes and 1.5 s of echo with 100 clients. Prints us per op from each source. Pinned like the
// bench (server core 0, this process core 1) when there are 2+ cores. Bounded: N x 3 servers x 2 short windows.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { LoadSession, nowMs } from "../src/load/index.js";
import { buildBench, SERVER_KINDS, startServer, type ServerHandle } from "./lib/servers.js";
import { settle } from "./lib/cpu.js";

const repsAt = process.argv.indexOf("--reps");
const reps = repsAt > 0 ? Number(process.argv[repsAt + 1]) || 1 : 1;
const pinned = availableParallelism() >= 2;
if (pinned) spawnSync("taskset", ["-a", "-cp", "1", String(process.pid)]);
const build = await buildBench((s) => process.stderr.write(`${s}\n`));
const websocket = { websocket: 1, polling: 0, upgrade: 0 };
const line = (cols: string[]): void => void process.stdout.write(`| ${cols.join(" | ")} |\n`);

async function window(server: ServerHandle, name: string, fn: () => Promise<number>): Promise<void> {
  await settle([server.cpu]);
  const a = server.cpu.sample();
  const ia = await server.selfCpuUs();
  const n = await fn();
  const b = server.cpu.sample();
  const ib = await server.selfCpuUs();
  const per = (us: number): string => (us / Math.max(1, n)).toFixed(1);
  line([server.kind, name, String(n), per(b.us - a.us), per(ib - ia), per(b.statUs - a.statUs), (((b.us - a.us) / (ib - ia) - 1) * 100).toFixed(2)]);
}

line(["server", "window", "ops", "schedstat us/op", "cpuUsage us/op", "/proc stat us/op", "schedstat vs cpuUsage %"]);
line(["---", "---", "--:", "--:", "--:", "--:", "--:"]);
for (let rep = 0; rep < reps; rep++) {
  for (const kind of SERVER_KINDS) {
    const server = await startServer(kind, { build, maxOldSpaceMb: 8192, ...(pinned ? { cpus: "0" } : {}) });
    const s = new LoadSession({ url: server.url, protocol: server.protocol, namespace: server.namespace, path: server.path, timeoutMs: 20_000, workers: 0, localAddresses: [] });
    try {
      await s.ready();
      await s.connect({ to: 50, rate: 0, concurrency: 50, transports: websocket, deadlineAt: nowMs() + 30_000 }); // warm-up
      await s.disconnect();
      await window(server, "1,000 handshakes", async () => (await s.connect({ to: 1000, rate: 0, concurrency: 100, transports: websocket, deadlineAt: nowMs() + 60_000 })).connected);
      await s.disconnect();
      await s.connect({ to: 100, rate: 0, concurrency: 100, transports: websocket, deadlineAt: nowMs() + 60_000 });
      await window(server, "echo, 100 clients", async () => (await s.echo({ clients: 100, durationMs: 1500, inflight: 1, payloadBytes: 16, maxOps: 0, deadlineAt: nowMs() + 30_000 })).ops);
    } finally {
      await server.stop();
      await s.close();
    }
  }
}
