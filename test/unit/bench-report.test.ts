import { test } from "node:test";
import assert from "node:assert/strict";
import { COLUMNS, figureResult, median, renderTable, tableRows } from "../../bench/lib/report.js";

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
