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
  assert.deepEqual(rows, [["CPU per connection (us)", "100", "200", "n/a", "0.50x", "n/a"]]);
  const table = renderTable(rows).split("\n");
  assert.equal(table.length, 3);
  for (const c of COLUMNS) assert.ok(table[0]?.includes(c), c);
});
