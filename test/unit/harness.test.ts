import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  connectClient,
  emitWithAck,
  killAllChildren,
  liveChildren,
  metricSum,
  onceEvent,
  parseMetrics,
  redisPing,
  REPO_ROOT,
  requireBinary,
  scrapeMetrics,
  spawnTracked,
  startNginx,
  startPylon,
  startRedis,
  transportName,
  useCleanup,
  waitFor,
  withTimeout,
} from "../helpers/index.js";

const cleanup = useCleanup();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("requireBinary fails loudly naming the Debian package", () => {
  assert.throws(() => requireBinary("no-such-binary-xyz", ["/nonexistent/no-such-binary-xyz"], "some-package"), {
    message: "MISSING SYSTEM BINARY no-such-binary-xyz: install some-package (CI installs it via .ci/run)",
  });
  assert.match(requireBinary("redis-server", ["redis-server"]), /redis-server$/);
});

test("parseMetrics and metricSum read Prometheus text", () => {
  const m = parseMetrics(
    ['# HELP x_total help', '# TYPE x_total counter', 'x_total{code="a",ns="/"} 2', 'x_total{code="b",ns="/"} 3', "up 1", 'h_bucket{le="+Inf"} 4'].join("\n"),
  );
  assert.equal(m.get('x_total{code="a",ns="/"}'), 2);
  assert.equal(m.get("up"), 1);
  assert.equal(metricSum(m, "x_total"), 5);
  assert.equal(metricSum(m, "x_total", { code: "b" }), 3);
  assert.equal(metricSum(m, "missing"), 0);
});

test("redis, nginx in front of one pylon, clients over polling and websocket, cleanup leaves nothing alive", async () => {
  const redis = await startRedis();
  assert.equal(await redisPing(redis.port), true);
  const pylon = await startPylon();
  assert.match(pylon.logs(), /listening on http:\/\/127\.0\.0\.1:\d+/);
  const nginx = await startNginx({ upstreams: [`127.0.0.1:${pylon.port}`] });
  const health = await fetch(`${nginx.url}/healthz`);
  assert.equal(health.status, 200);

  const polling = await connectClient(`${nginx.url}/demo`, { transports: ["polling"] });
  cleanup.add(() => polling.disconnect());
  assert.equal(transportName(polling), "polling");
  assert.deepEqual(await emitWithAck(polling, "echo", { a: [1, "two"] }), { a: [1, "two"] });

  const ws = await connectClient(`${nginx.url}/demo`, { transports: ["websocket"] });
  assert.equal(transportName(ws), "websocket");
  assert.deepEqual(await emitWithAck(ws, "echo", "hi"), "hi");

  const metrics = await scrapeMetrics(pylon.url);
  assert.ok(metricSum(metrics, "pylon_handshakes_total", { outcome: "ok" }) >= 2);

  // restart keeps the port
  const oldPid = redis.pid;
  await redis.restart();
  assert.notEqual(redis.pid, oldPid);
  assert.equal(await redisPing(redis.port), true);

  const disconnected = onceEvent(ws, "disconnect");
  await nginx.stop();
  await disconnected;
  polling.disconnect();

  const pids = [redis.pid, pylon.pid, nginx.pid];
  assert.ok(liveChildren().length >= 2);
  await killAllChildren();
  await waitFor(() => pids.every((p) => !pidAlive(p)), { message: "harness children gone" });
  assert.deepEqual(liveChildren(), []);
});

test("a failing pylon start reports its stderr", async () => {
  await assert.rejects(startPylon({ args: ["--engine.transports", "carrier-pigeon"] }), /engine\.transports/);
});

test("nginx affinity: cookie pins a client to one upstream, none round-robins, stripUpgrade breaks websocket", async () => {
  const a = await startPylon();
  const b = await startPylon();
  const upstreams = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
  const nodeOf = async (url: string, cookie?: string): Promise<{ nodeId: string; setCookie: string | null }> => {
    const res = await fetch(`${url}/healthz`, cookie ? { headers: { cookie } } : {});
    const body = (await res.json()) as { nodeId: string };
    return { nodeId: body.nodeId, setCookie: res.headers.get("set-cookie") };
  };

  const sticky = await startNginx({ upstreams, affinity: "cookie" });
  const first = await nodeOf(sticky.url);
  assert.match(first.setCookie ?? "", /^pylon_lb=[0-9a-f]+; Path=\/; HttpOnly/);
  const cookie = first.setCookie!.split(";")[0]!;
  for (let i = 0; i < 6; i++) {
    const again = await nodeOf(sticky.url, cookie);
    assert.equal(again.nodeId, first.nodeId);
    assert.equal(again.setCookie, null);
  }

  const rr = await startNginx({ upstreams });
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add((await nodeOf(rr.url)).nodeId);
  assert.equal(seen.size, 2);

  const ipHash = await startNginx({ upstreams, affinity: "ip_hash" });
  const ipNodes = new Set<string>();
  for (let i = 0; i < 4; i++) ipNodes.add((await nodeOf(ipHash.url)).nodeId);
  assert.equal(ipNodes.size, 1);

  const stripped = await startNginx({ upstreams: [upstreams[0]!], stripUpgrade: true });
  await assert.rejects(connectClient(`${stripped.url}/demo`, { transports: ["websocket"], connectTimeoutMs: 3000 }));
  const viaPolling = await connectClient(`${stripped.url}/demo`, { transports: ["polling"] });
  assert.equal(transportName(viaPolling), "polling");
  viaPolling.disconnect();
});

for (const how of ["exit", "throw", "sigterm"] as const) {
  test(`a test process that ends by ${how} leaves no harness child behind`, async () => {
    const fixture = join(REPO_ROOT, "test", "fixtures", "harness-orphans.ts");
    const child = spawnTracked(process.execPath, ["--import", "tsx", fixture, how], "fixture", { cwd: REPO_ROOT });
    const line = await waitFor(() => /\{"pids":\[(\d+),(\d+)\]\}/.exec(child.stdout()), { timeoutMs: 20_000, message: "fixture started" });
    const pids = [Number(line[1]), Number(line[2])];
    assert.ok(pids.every(pidAlive));
    if (how === "sigterm") child.signal("SIGTERM");
    const exit = await withTimeout(child.exited, 15_000, `${how} fixture exit`);
    assert.equal(exit.code, { exit: 0, throw: 1, sigterm: 143 }[how]);
    await waitFor(() => pids.every((p) => !pidAlive(p)), { timeoutMs: 5000, message: `children of the ${how} fixture are gone` });
  });
}
