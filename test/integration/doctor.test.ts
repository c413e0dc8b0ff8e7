import { test, before } from "node:test";
import assert from "node:assert/strict";
import { metricSum, scrapeMetrics, startPylon, useCleanup } from "../helpers/index.js";
import { diagnose, runDoctorCli, startDoctorSetups, type DoctorSetup, type DoctorRun } from "../helpers/doctor-setups.js";

/**
 * `pylon doctor` against real nginx setups: a healthy one and deliberately broken ones (upgrade headers stripped,
 * proxy buffering on, a 5 s proxy read timeout, round robin over two nodes without affinity/forwarding/backplane,
 * the app's origin missing from corsOrigins, a proxy body limit below maxHttpBufferSize, TLS with an untrusted and
 * with an expiring certificate), plus a healthy 3-node cluster (Redis, forwarding, round robin). Each fault must be named by the right check, with the
 * right severity and exit code, and the healthy setup must pass. The doctor runs concurrently (~15 s in all).
 */
const cleanup = useCleanup();
let setups: DoctorSetup[] = [];
const runs = new Map<string, Promise<DoctorRun>>();

before(async () => {
  setups = await startDoctorSetups((p) => cleanup.add(() => p.stop()));
  for (const s of setups) runs.set(s.name, runDoctorCli(s.url, s.args));
});

const NAMES = ["healthy", "healthy-3-node-cluster", "upgrade-stripped", "proxy-buffering", "idle-timeout-5s", "round-robin-no-forwarding", "app-origin-refused", "proxy-body-limit", "tls-untrusted", "tls-expiring"];

for (const name of NAMES) {
  test(`doctor diagnoses: ${name}`, async () => {
    const setup = setups.find((s) => s.name === name);
    assert.ok(setup, `setup ${name} exists`);
    const run = await runs.get(name)!;
    const problems = diagnose(setup, run);
    assert.deepEqual(problems, [], `doctor on ${name} (${setup.fault}):\n${problems.join("\n")}\n--- report ---\n${run.stdout.slice(0, 6000)}\n${run.stderr.slice(-2000)}`);
    for (const f of run.findings) {
      if (!f.ok) {
        assert.match(f.fix, /docs\/operations\.md#[a-z0-9-]+/, `${f.name}: the fix links the runbook`);
        assert.ok(f.evidence.length > 0, `${f.name}: a failure carries evidence`);
      }
    }
  });
}

test("idle-timeout reports the second the proxy cut the connection", async () => {
  const run = await runs.get("idle-timeout-5s")!;
  const f = run.findings.find((x) => x.name === "idle-timeout");
  assert.ok(f && !f.ok, "idle-timeout failed");
  const at = Number(f.data?.closedAtS);
  assert.ok(at >= 4 && at < 25, `cut near the 5 s read timeout, before the 25 s ping (got ${at} s)`);
  assert.equal(f.data?.closedBy, "proxy");
});

test("round robin without forwarding: evidence names the unknown session and the partial broadcast", async () => {
  const run = await runs.get("round-robin-no-forwarding")!;
  const affinity = run.findings.find((x) => x.name === "session-affinity")!;
  assert.ok(Number(affinity.data?.unknownSession) > 0, "some in-session requests got Session ID unknown");
  assert.match(affinity.evidence.join("\n"), /Session ID unknown/);
  const upgrade = run.findings.find((x) => x.name === "websocket-upgrade")!;
  assert.match(upgrade.runbook, /session-id-unknown-no-affinity/, `the failed upgrade is blamed on the missing affinity, not on the proxy headers: ${upgrade.summary} | ${upgrade.evidence.join(" | ")}`);
  const cross = run.findings.find((x) => x.name === "cross-node")!;
  assert.ok(Number(cross.data?.completeness) < 1, "completeness below 100%");
});

test("3-node cluster: cross-node broadcasts from every --nodes entry; affinity holds although connections spread", async () => {
  const run = await runs.get("healthy-3-node-cluster")!;
  const cross = run.findings.find((x) => x.name === "cross-node")!;
  assert.equal(cross.data?.broadcasts, 3, `one broadcast per node: ${cross.evidence.join(" | ")}`);
  assert.equal(cross.data?.completeness, 1);
  const affinity = run.findings.find((x) => x.name === "session-affinity")!;
  const nodes = new Set(affinity.data?.nodes as string[]);
  assert.ok(nodes.size > 1, `round robin spread fresh connections over nodes: ${[...nodes].join(",")}`);
  assert.equal(affinity.data?.unknownSession, 0, "forwarding served every in-session request");
});

test("the doctor probe is bounded: at most 8 streams at once, the rest get 429 (counted), and it answers only GET with a known kind", async () => {
  const node = await startPylon();
  cleanup.add(() => node.stop());
  const probe = (q: string, method = "GET"): Promise<number> => fetch(`${node.url}/socket.io/?${q}`, { method }).then(async (r) => (await r.arrayBuffer(), r.status));
  const statuses = await Promise.all(Array.from({ length: 12 }, () => probe("pylon_probe=stream&chunks=10&gap=300")));
  assert.equal(statuses.filter((s) => s === 200).length, 8, `8 streams served: ${statuses.join(",")}`);
  assert.equal(statuses.filter((s) => s === 429).length, 4);
  const m = await scrapeMetrics(node.url);
  assert.equal(metricSum(m, "pylon_doctor_probes_total", { kind: "stream", outcome: "busy" }), 4);
  // an unknown kind or another method is not the probe: engine.io answers as usual (400 "Transport unknown")
  assert.equal(await probe("pylon_probe=shell"), 400);
  assert.equal(await probe("pylon_probe=stream", "POST"), 400);
});
