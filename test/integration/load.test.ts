// The load engine against a real `pylon serve`: each scenario at a tiny size, counts must be consistent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnTracked, startPylon, useCleanup, CLI_PATH, type PylonProcess } from "../helpers/index.js";
import { runScenario, type LoadReport } from "../../src/load/index.js";

const cleanup = useCleanup();
const MIX = { websocket: 0.5, polling: 0.25, upgrade: 0.25 };
let pylon: PylonProcess;

test.before(async () => {
  pylon = await startPylon();
  cleanup.add(() => pylon.stop());
});

function base(scenario: LoadReport["scenario"], clients: number) {
  return { url: pylon.url, scenario, clients, workers: 2, duration: 0.5, deadline: 30, transports: MIX };
}

function assertHist(h: { count: number; p50: number; p99: number; max: number }, n: number, what: string): void {
  assert.equal(h.count, n, `${what}: histogram count`);
  assert.ok(h.p50 > 0 && h.p50 <= h.p99 && h.p99 <= h.max, `${what}: ordered percentiles ${JSON.stringify(h)}`);
}

test("connect: ramps to N over the transport mix and holds without drops", async () => {
  const r = await runScenario({ ...base("connect", 24), rate: 200 });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  assert.equal(r.connect?.connected, 24);
  assert.equal(r.connect?.failed, 0);
  assertHist(r.connect!.latency, 24, "connect");
  assert.deepEqual(r.hold && [r.hold.connectedAtEnd, r.hold.drops], [24, 0]);
  assert.equal(r.workers, 2);
});

test("churn: every cycle connects and disconnects once", async () => {
  const r = await runScenario({ ...base("churn", 10), churn: { cycles: 3, holdMs: 20 }, duration: 20 });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  assert.equal(r.churn?.cycles, 30);
  assert.equal(r.churn?.connects, 30);
  assert.equal(r.churn?.disconnects, 30);
  assertHist(r.churn!.latency, 30, "churn");
});

test("storm: all clients drop at once and all come back", async () => {
  const r = await runScenario({ ...base("storm", 20), storm: { rounds: 2 } });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  assert.equal(r.storm?.length, 2);
  for (const s of r.storm ?? []) {
    assert.deepEqual([s.clients, s.reconnected, s.failed], [20, 20, 0]);
    assert.ok(s.timeToAllMs > 0);
    assertHist(s.latency, 20, "storm");
  }
});

test("broadcast: every member of every room receives every broadcast (completeness 1.0 on loopback)", async () => {
  const r = await runScenario({ ...base("broadcast", 30), broadcast: { rooms: 3, rate: 50, burst: 2, count: 6, settleMs: 10_000 }, duration: 10 });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  const b = r.broadcast!;
  assert.equal(b.ticks, 6);
  assert.equal(b.sent, 6 * 3 * 2);
  assert.equal(b.members, 30);
  assert.equal(b.expected, 6 * 2 * 30);
  assert.equal(b.received, b.expected);
  assert.equal(b.completeness, 1);
  assert.equal(b.stale, 0);
  assertHist(b.latency, b.expected, "broadcast latency");
});

test("broadcast closed loop (window) completes every tick", async () => {
  const r = await runScenario({ ...base("broadcast", 10), transports: { websocket: 1 }, broadcast: { rooms: 1, window: 2, count: 20, settleMs: 10_000 }, duration: 10 });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  assert.equal(r.broadcast?.ticks, 20);
  assert.equal(r.broadcast?.received, 200);
  assert.ok((r.broadcast?.deliveriesPerSec ?? 0) > 0);
});

test("echo: every op is acked and timed", async () => {
  const r = await runScenario({ ...base("echo", 6), echo: { inflight: 2, maxOps: 300 }, duration: 10 });
  assert.equal(r.ok, true, JSON.stringify(r.errors));
  const e = r.echo!;
  assert.equal(e.clients, 6);
  assert.ok(e.ops >= 300 && e.ops <= 300 + 12, `ops ${e.ops}`);
  assert.equal(e.failed, 0);
  assertHist(e.latency, e.ops, "echo");
});

test("pylon load CLI: --json report, exit 0; unreachable server exits 1 with the errors counted", async () => {
  const ok = spawnTracked(process.execPath, [CLI_PATH, "load", pylon.url, "--scenario", "echo", "--clients", "3", "--duration", "0.3", "--workers", "1", "--json"], "pylon-load");
  const okExit = await ok.exited;
  assert.equal(okExit.code, 0, ok.stderr());
  const report = JSON.parse(ok.stdout()) as LoadReport;
  assert.equal(report.scenario, "echo");
  assert.equal(report.connect?.connected, 3);
  assert.ok((report.echo?.ops ?? 0) > 0);

  const bad = spawnTracked(process.execPath, [CLI_PATH, "load", "http://127.0.0.1:9", "--clients", "2", "--workers", "1", "--timeout", "2000", "--duration", "0"], "pylon-load-bad");
  const badExit = await bad.exited;
  assert.equal(badExit.code, 1);
  assert.match(bad.stdout(), /FAILED/);
  assert.match(bad.stdout(), /0\/2 connected, 2 failed/);
});

test("auth: the load engine sends a socket.io auth payload, so it can load a server with JWT required", async () => {
  const { SignJWT } = await import("jose");
  const secret = "load-test-secret-0123456789abcdef0123456789";
  const secured = await startPylon({ config: { security: { jwt: { mode: "required", algorithms: ["HS256"], hmacSecret: secret } } } });
  cleanup.add(() => secured.stop());
  const token = await new SignJWT({ sub: "load-user" })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(secret));
  const ok = await runScenario({ url: secured.url, scenario: "echo", clients: 4, workers: 1, duration: 0.3, auth: { token }, transports: { websocket: 1, upgrade: 1 } });
  assert.equal(ok.ok, true, JSON.stringify(ok.errors));
  assert.equal(ok.connect?.connected, 4);
  assert.ok((ok.echo?.ops ?? 0) > 0);
  const refused = await runScenario({ url: secured.url, scenario: "connect", clients: 2, workers: 1, duration: 0, timeoutMs: 5000 });
  assert.equal(refused.ok, false);
  assert.equal(refused.connect?.failed, 2);
  assert.ok(Object.keys(refused.errors).some((k) => k.startsWith("connect_error")), JSON.stringify(refused.errors));
});
