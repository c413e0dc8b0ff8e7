import { test, before } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, spawnTracked, startNginx, startPylon, tempDir, useCleanup, type PylonProcess } from "../helpers/index.js";
import { startScaleCluster, type ScaleCluster } from "../helpers/scale.js";

/**
 * `pylon canary` (the built CLI) against `pylon serve`, against the 3-node nginx + Redis setup, and against a broken
 * setup (round robin over 2 independent nodes: no affinity, no forwarding, no backplane). Checks the SLO gate's exit
 * codes and the listing of breached objectives. No timing assertions: latency SLOs are only used with targets that
 * cannot be met (p50=0ms) or generous ones.
 */
const cleanup = useCleanup();
let single: PylonProcess;
let cluster: ScaleCluster;
let brokenUrl: string;

before(async () => {
  const [s, c, a, b] = await Promise.all([startPylon(), startScaleCluster(), startPylon({ args: ["--cluster.forwarding", "false"] }), startPylon({ args: ["--cluster.forwarding", "false"] })]);
  single = s;
  cluster = c;
  for (const p of [s, a, b, ...c.nodes]) cleanup.add(() => p.stop());
  cleanup.add(() => c.redis.stop());
  cleanup.add(() => c.nginx.stop());
  const nginx = await startNginx({ upstreams: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], affinity: "none" });
  cleanup.add(() => nginx.stop());
  brokenUrl = nginx.url;
});

interface CanaryJson {
  ok: boolean;
  clients: { target: number; connected: number };
  transports: Record<string, { target: number; connected: number }>;
  connectSuccess: number;
  upgradeSuccess: number | null;
  broadcast: { expected: number; received: number; completeness: number; latency: { p50: number; p99: number; p999: number } } | null;
  slo: { name: string; ok: boolean; target: string; actual: string }[];
  problems: string[];
}

async function canary(url: string, args: string[], json = true): Promise<{ code: number | null; stdout: string; stderr: string; report?: CanaryJson }> {
  const child = spawnTracked(process.execPath, [CLI_PATH, "canary", url, ...(json ? ["--json"] : []), "--deadline", "45s", ...args], "pylon-canary");
  const exit = await child.exited;
  let report: CanaryJson | undefined;
  if (json) {
    try {
      report = JSON.parse(child.stdout()) as CanaryJson;
    } catch {
      // asserted by the caller
    }
  }
  return { code: exit.code, stdout: child.stdout(), stderr: child.stderr(), ...(report ? { report } : {}) };
}

const SMALL = ["--clients", "12", "--rooms", "2", "--broadcasts", "10", "--rate", "20", "--settle", "2s"];

test("canary against pylon serve: every transport connects, upgrades, receives everything; SLO met (exit 0)", async () => {
  const r = await canary(single.url, [...SMALL, "--slo", "completeness=100%,connect=100%,upgrade=100%,p999=30s"]);
  assert.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr}`);
  const rep = r.report!;
  assert.equal(rep.ok, true);
  assert.deepEqual(
    Object.fromEntries(Object.entries(rep.transports).map(([k, v]) => [k, `${v.connected}/${v.target}`])),
    { websocket: "4/4", polling: "4/4", upgrade: "4/4" },
  );
  assert.equal(rep.upgradeSuccess, 1);
  assert.ok(rep.broadcast, "broadcast phase ran");
  assert.equal(rep.broadcast.expected, 12 * 10, "every client is in one room; 10 broadcasts per room");
  assert.equal(rep.broadcast.received, rep.broadcast.expected);
  assert.ok(rep.broadcast.latency.p50 > 0 && rep.broadcast.latency.p50 <= rep.broadcast.latency.p99 && rep.broadcast.latency.p99 <= rep.broadcast.latency.p999, "percentiles are ordered");
  assert.deepEqual(rep.slo.map((s) => s.name), ["p999", "completeness", "connect", "upgrade"]);
});

test("canary SLO gate: an objective that cannot be met exits 1 and is listed as breached (text output)", async () => {
  const dir = tempDir("pylon-slo-");
  const file = join(dir, "slo.yaml");
  writeFileSync(file, "p50: 0ms\ncompleteness: 100%\n");
  const r = await canary(single.url, [...SMALL, "--slo", file], false);
  assert.equal(r.code, 1, `exit 1\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /BREACHED\s+p50/);
  assert.match(r.stdout, /met\s+completeness 100%/);
  assert.match(r.stdout, /canary: SLO breached: p50/);
});

test("canary against the 3-node nginx + Redis setup (round robin, forwarding): SLO met", async () => {
  const r = await canary(cluster.nginx.url, [...SMALL, "--clients", "18", "--slo", "completeness=100%,connect=100%,upgrade=100%"]);
  assert.equal(r.code, 0, `exit 0\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.report!.broadcast!.completeness, 1);
  assert.equal(r.report!.clients.connected, 18);
});

test("canary against round robin without forwarding or backplane: breaches completeness and connect (exit 1)", async () => {
  const r = await canary(brokenUrl, [...SMALL, "--timeout", "5s", "--slo", "completeness=100%,connect=100%"]);
  assert.equal(r.code, 1, `exit 1\n${r.stdout}\n${r.stderr}`);
  const breached = r.report!.slo.filter((s) => !s.ok).map((s) => s.name);
  assert.ok(breached.includes("completeness"), `completeness breached: ${JSON.stringify(r.report!.slo)}`);
  assert.ok(breached.includes("connect"), `connect breached (polling clients lose their session): ${JSON.stringify(r.report!.slo)}`);
  assert.equal(r.report!.transports.polling!.connected, 0, "no polling client survives round robin without affinity or forwarding");
  assert.ok(r.report!.transports.websocket!.connected === 4, "websocket-only clients need no affinity and connect");
});

test("canary --token: a deployment that requires a JWT refuses the canary without it and passes with it", async () => {
  const dir = tempDir("pylon-canary-keys-");
  const run = (args: string[]): Promise<{ code: number | null; out: string }> => {
    const c = spawnTracked(process.execPath, [CLI_PATH, ...args], "pylon-token");
    return c.exited.then((e) => ({ code: e.code, out: c.stdout().trim() }));
  };
  assert.equal((await run(["token", "keygen", "--out", dir])).code, 0);
  const minted = await run(["token", "mint", "--key", join(dir, "private.pem"), "--sub", "canary", "--ttl", "600"]);
  assert.equal(minted.code, 0);
  const node = await startPylon({ args: ["--security.jwt.mode", "required", "--security.jwt.publicKeyFile", join(dir, "public.pem")] });
  cleanup.add(() => node.stop());
  const small = ["--clients", "6", "--rooms", "1", "--broadcasts", "5", "--rate", "20", "--settle", "2s", "--timeout", "5s"];
  const without = await canary(node.url, small);
  assert.equal(without.code, 1);
  assert.equal(without.report!.clients.connected, 0);
  assert.ok(without.report!.slo.some((s) => s.name === "connect" && !s.ok));
  const withToken = await canary(node.url, [...small, "--token", minted.out]);
  assert.equal(withToken.code, 0, `exit 0 with the token\n${withToken.stdout}\n${withToken.stderr}`);
  assert.equal(withToken.report!.broadcast!.completeness, 1);
  assert.ok(!withToken.stdout.includes(minted.out), "the token is not echoed in the report");
});

test("canary usage errors exit 2", async () => {
  const r = await canary(single.url, ["--slo", "p99=fast"], false);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /p99/);
  const r2 = await canary(single.url, ["--slo", "latency=1ms"], false);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /unknown SLO/);
});
