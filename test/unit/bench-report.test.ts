import { test } from "node:test";
import assert from "node:assert/strict";
import { COLUMNS, figureResult, median, renderTable, tableRows } from "../../bench/lib/report.js";
import { checkTargets, isMet, targetRows } from "../../bench/lib/targets.js";

test("bench figures: medians per server, ratios against socket.io and ws, n/a where a figure does not apply", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
  const f = figureResult(
    { id: "handshake.upgrade.cpu_us_per_conn", label: "CPU per connection", unit: "us", better: "lower", notFor: ["ws"] },
    { pylon: [90, 100, 110], socketio: [200, 190, 210], ws: [50] },
  );
  assert.deepEqual(f.values, { pylon: 100, socketio: 200, ws: null });
  assert.equal(f.ratios.pylon_socketio, 0.5);
  assert.equal(f.ratios.pylon_ws, null);
  const rows = tableRows([f]);
  assert.deepEqual(rows, [["CPU per connection (us)", "100", "200", "n/a", "0.50x (0.45-0.53)", "n/a"]], "ratio of medians, then the range of the per-repetition ratios");
  assert.deepEqual(f.ratioRanges.pylon_socketio, { min: 0.45, max: 100 / 190, n: 3 });
  const table = renderTable(rows).split("\n");
  assert.equal(table.length, 3);
  for (const c of COLUMNS) assert.ok(table[0]?.includes(c), c);
});

test("bench figures: per-repetition ratio ranges need two paired repetitions and equal run counts", () => {
  const def = { id: "x", label: "x", unit: "us", better: "lower" as const };
  assert.equal(figureResult(def, { pylon: [1], socketio: [2], ws: [4] }).ratioRanges.pylon_socketio, null, "one repetition");
  assert.equal(figureResult(def, { pylon: [1, 2, 3], socketio: [2, 2], ws: [] }).ratioRanges.pylon_socketio, null, "a failed repetition");
  const f = figureResult(def, { pylon: [1, 2], socketio: [2, 2], ws: [4, 1] });
  assert.deepEqual(f.ratioRanges, { pylon_socketio: { min: 0.5, max: 1, n: 2 }, pylon_ws: { min: 0.25, max: 2, n: 2 } });
  assert.equal(tableRows([f])[0]![4], "0.75x (0.50-1.00)");
});

test("bench targets: never worse than socket.io on every figure, the tighter socket.io and raw ws bounds, noisy verdicts", () => {
  const cost = figureResult(
    { id: "echo.100.cpu_us_per_op", label: "CPU per op", unit: "us", better: "lower" },
    { pylon: [11, 12, 13], socketio: [12, 12, 12], ws: [10, 10, 10] },
  );
  const throughput = figureResult({ id: "echo.100.ops_per_s", label: "ops/s", unit: "/s", better: "higher" }, { pylon: [90, 110], socketio: [100, 100], ws: [] });
  const heap = figureResult({ id: "memory.heap_kb_per_conn", label: "heap", unit: "KB", better: "lower" }, { pylon: [6.5], socketio: [10], ws: [2.5] });
  const wsOnly = figureResult({ id: "fanout.1000.cpu_us_per_delivery", label: "CPU per delivery", unit: "us", better: "lower", notFor: ["socketio"] }, { pylon: [2, 2], socketio: [], ws: [2, 1] });
  const checks = checkTargets([cost, throughput, heap, wsOnly]);
  const by = (figure: string, against: string) => checks.find((c) => c.figure === figure && c.against === against);
  // CPU per op: 12 vs 12 is not worse (met), but one repetition was 13/12: the verdict says so
  assert.equal(by("echo.100.cpu_us_per_op", "socket.io")?.verdict, "met, not in every repetition");
  assert.equal(by("echo.100.cpu_us_per_op", "socket.io")?.atMost, true);
  // 12 / 10 = 1.2x raw ws: at the bound is met; the repetitions spread 1.1-1.3
  assert.equal(by("echo.100.cpu_us_per_op", "ws")?.verdict, "met, not in every repetition");
  // throughput: at least 1.0x (median 100 / 100); one repetition below
  assert.equal(by("echo.100.ops_per_s", "socket.io")?.atMost, false);
  assert.equal(by("echo.100.ops_per_s", "socket.io")?.verdict, "met, not in every repetition");
  // heap: the tighter 0.7x bound, one repetition (no range)
  const h = by("memory.heap_kb_per_conn", "socket.io");
  assert.equal(h?.bound, 0.7);
  assert.equal(h?.verdict, "met");
  // fan-out 1,000 vs ws: 2 / 1.5 = 1.33x against 1.1x; per repetition 1.0 and 2.0
  assert.equal(by("fanout.1000.cpu_us_per_delivery", "ws")?.verdict, "not met, met in some repetitions");
  assert.equal(by("fanout.1000.cpu_us_per_delivery", "socket.io"), undefined, "no socket.io value, no check");
  assert.equal(checks.length, 5);
  assert.equal(checks.filter((c) => isMet(c.verdict)).length, 4, "the two met verdicts count as met");
  const rows = targetRows(checks);
  assert.deepEqual(rows.find((r) => r[0]!.startsWith("heap")), ["heap per idle connection <= 0.7x socket.io", "0.650x", "met"]);
  assert.equal(renderTable(rows, ["target", "ratio", "verdict"]).split("\n").length, 2 + checks.length);
});
