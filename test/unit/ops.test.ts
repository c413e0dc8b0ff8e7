import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Registry, collectDefaultMetrics } from "prom-client";
import { RUNBOOK, RUNBOOK_DOC } from "../../src/ops/finding.js";
import { evaluateSlo, parseSlo, sloFromObject, SloError, DEFAULT_SLO } from "../../src/ops/slo.js";
import { splitByMix } from "../../src/ops/canary.js";
import { parseOpen, splitPayload, engineError, percentile } from "../../src/ops/eio.js";
import { parseBytes, parseDuration } from "../../src/ops/duration.js";
import { CHECK_NAMES } from "../../src/ops/doctor.js";
import { REPO_ROOT } from "../helpers/paths.js";

const measures = (over: Partial<{ p99: number; completeness: number; upgrade: number | null; drops: number }> = {}) => ({
  latency: { p50: 1, p90: 2, p99: over.p99 ?? 3, p999: 4, max: 5 },
  ratio: { completeness: over.completeness ?? 1, connect: 1, upgrade: over.upgrade === undefined ? 1 : over.upgrade },
  drops: over.drops ?? 0,
});

test("SLO spec: parsing, units, aliases and errors", () => {
  const slo = parseSlo("p99=250ms,completeness=100%,upgrade=99%,p999=1s,connection=0.995,drops=0");
  assert.deepEqual(slo, { latency: { p99: 250, p999: 1000 }, ratio: { completeness: 1, upgrade: 0.99, connect: 0.995 }, drops: 0 });
  assert.deepEqual(sloFromObject({ p50: 10, completeness: "50%" }), { latency: { p50: 10 }, ratio: { completeness: 0.5 } });
  assert.throws(() => parseSlo("p99=fast"), SloError);
  assert.throws(() => parseSlo("latency=1ms"), /unknown SLO "latency"/);
  assert.throws(() => parseSlo("completeness=120%"), SloError);
  assert.throws(() => parseSlo("p99"), /key=value/);
  assert.ok(parseSlo(DEFAULT_SLO).ratio.completeness === 1);
});

test("SLO gate: met, breached, and vacuous upgrade objective", () => {
  const slo = parseSlo("p99=250ms,completeness=100%,upgrade=99%,drops=0");
  assert.ok(evaluateSlo(slo, measures()).every((r) => r.ok));
  const breached = evaluateSlo(slo, measures({ p99: 300, completeness: 0.98, drops: 2 })).filter((r) => !r.ok).map((r) => r.name);
  assert.deepEqual(breached, ["p99", "completeness", "drops"]);
  const noUpgrade = evaluateSlo(slo, measures({ upgrade: null })).find((r) => r.name === "upgrade")!;
  assert.equal(noUpgrade.ok, true);
  assert.equal(noUpgrade.actual, "n/a");
});

test("canary transport split: largest remainder, zero weights stay zero", () => {
  assert.deepEqual(splitByMix(30, { websocket: 1, polling: 1, upgrade: 1 }), { websocket: 10, polling: 10, upgrade: 10 });
  assert.deepEqual(splitByMix(10, { websocket: 1, polling: 1, upgrade: 1 }), { websocket: 4, polling: 3, upgrade: 3 });
  assert.deepEqual(splitByMix(7, { websocket: 1, polling: 0, upgrade: 0 }), { websocket: 7, polling: 0, upgrade: 0 });
  assert.deepEqual(splitByMix(5, { websocket: 0, polling: 3, upgrade: 1 }), { websocket: 0, polling: 4, upgrade: 1 });
  assert.throws(() => splitByMix(5, { websocket: 0, polling: 0, upgrade: 0 }));
});

test("Engine.IO probe parsing: open packet, payload split, error body, percentiles, units", () => {
  const open = parseOpen('0{"sid":"a.b","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
  assert.deepEqual(open, { sid: "a.b", upgrades: ["websocket"], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 });
  assert.equal(parseOpen("40"), undefined);
  assert.equal(parseOpen("0{not json"), undefined);
  assert.deepEqual(splitPayload("2\x1e40{}"), ["2", "40{}"]);
  assert.deepEqual(splitPayload(""), []);
  assert.deepEqual(engineError({ status: 400, headers: {}, body: '{"code":1,"message":"Session ID unknown"}', ms: 1 }), { code: 1, message: "Session ID unknown" });
  assert.equal(engineError({ status: 413, headers: {}, body: "<html>413</html>", ms: 1 }), undefined);
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([5, 1, 3, 2, 4], 100), 5);
  assert.equal(parseDuration("70s", "ms"), 70_000);
  assert.equal(parseDuration("70", "s"), 70_000);
  assert.equal(parseDuration("250ms", "s"), 250);
  assert.equal(parseDuration("soon"), undefined);
  assert.equal(parseBytes("8mb"), 8 * 1024 * 1024);
  assert.equal(parseBytes("512k"), 512 * 1024);
});

/** The ## Runbook part of docs/operations.md. */
function runbookText(): string {
  const doc = readFileSync(join(REPO_ROOT, RUNBOOK_DOC), "utf8");
  const start = doc.indexOf("\n## Runbook");
  assert.ok(start >= 0, "docs/operations.md has a ## Runbook section");
  const next = doc.indexOf("\n## ", start + 5);
  return next < 0 ? doc.slice(start) : doc.slice(start, next);
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-");
}

test("runbook: every section doctor links to exists, and every playbook symptom has metric, doctor check, command, fix", () => {
  const text = runbookText();
  const sections = new Map<string, string>();
  const parts = text.split(/\n### /).slice(1);
  for (const p of parts) {
    const nl = p.indexOf("\n");
    sections.set(anchor(p.slice(0, nl)), p.slice(nl));
  }
  for (const [key, a] of Object.entries(RUNBOOK)) assert.ok(sections.has(a), `runbook section for ${key} (#${a}) exists; have ${[...sections.keys()].join(", ")}`);
  for (const [a, body] of sections) {
    for (const field of ["**Metric**", "**Doctor**", "**Command**", "**Fix**"]) assert.ok(body.includes(field), `#${a} has ${field}`);
  }
  // every doctor check named in a Doctor line exists
  for (const m of text.matchAll(/pylon doctor [^`\n]*--checks ([a-z-,]+)/g)) for (const c of m[1]!.split(",")) assert.ok(CHECK_NAMES.includes(c), `runbook cites check ${c}`);
});

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

test("runbook: every metric it cites is registered somewhere in src/ (or is a prom-client default metric)", () => {
  const src = sourceFiles(join(REPO_ROOT, "src")).map((f) => readFileSync(f, "utf8")).join("\n");
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "pylon_" });
  const defaults = new Set(registry.getMetricsAsArray().map((m) => m.name));
  const cited = new Set([...runbookText().matchAll(/\bpylon_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, "")));
  assert.ok(cited.size >= 20, `the runbook cites metrics (${cited.size})`);
  const missing = [...cited].filter((name) => !defaults.has(name) && !new RegExp(`name: (?:[\\w.]+ \\+ )?"${name.slice("pylon_".length)}"`).test(src) && name !== "pylon_probe");
  assert.deepEqual(missing, [], "metrics cited in the runbook but registered nowhere");
});

test("doctor and canary CLIs: usage errors exit 2 with a message, --help exits 0", async () => {
  const { doctorCommand } = await import("../../src/cli/doctor.js");
  const { canaryCommand } = await import("../../src/cli/canary.js");
  const capture = (): { io: { out: (t: string) => void; err: (t: string) => void }; text: () => string } => {
    let buf = "";
    return { io: { out: (t) => void (buf += t + "\n"), err: (t) => void (buf += t + "\n") }, text: () => buf };
  };
  const quiet = { isTTY: false, write: () => undefined };
  const cases: [string, readonly string[], RegExp][] = [
    ["doctor", [], /a URL is required/],
    ["doctor", ["ftp://x"], /http:\/\/ or https:\/\//],
    ["doctor", ["http://127.0.0.1:1", "--checks", "nope"], /unknown check\(s\): nope/],
    ["doctor", ["http://127.0.0.1:1", "--idle-max", "0s"], /--idle-max/],
    ["canary", [], /a URL is required/],
    ["canary", ["http://127.0.0.1:1", "--slo", "p99=soon"], /p99/],
    ["canary", ["http://127.0.0.1:1", "--transports", "carrier-pigeon:1"], /--transports/],
    ["canary", ["http://127.0.0.1:1", "--clients", "0"], /--clients/],
  ];
  for (const [cmd, argv, re] of cases) {
    const c = capture();
    const code = cmd === "doctor" ? await doctorCommand(argv, c.io, false) : await canaryCommand(argv, c.io, quiet);
    assert.equal(code, 2, `${cmd} ${argv.join(" ")}`);
    assert.match(c.text(), re);
  }
  const help = capture();
  assert.equal(await doctorCommand(["--help"], help.io, false), 0);
  assert.match(help.text(), /--idle-max/);
});
