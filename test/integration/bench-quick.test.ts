// `npm run bench -- --quick --only <one small figure>` end to end: three real servers, a JSON results file with the
// table's columns. Small on purpose (seconds); the figures themselves are never asserted (no timing assertions).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, spawnTracked, tempDir, useCleanup } from "../helpers/index.js";

useCleanup();

test("bench --quick --only echo.1 writes a results file with the table's columns for all three servers", async () => {
  const out = tempDir("pylon-bench-");
  const tsx = join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs");
  const bench = spawnTracked(
    process.execPath,
    [tsx, "bench/run.ts", "--quick", "--only", "echo.1.", "--no-build", "--no-chart", "--no-pin", "--out", out],
    "bench",
    { cwd: REPO_ROOT },
  );
  const exit = await bench.exited;
  assert.equal(exit.code, 0, `bench failed:\n${bench.stderr().slice(-3000)}`);
  const files = readdirSync(out).filter((f) => f.endsWith(".json"));
  assert.equal(files.length, 1);
  const result = JSON.parse(readFileSync(join(out, files[0] as string), "utf8"));
  assert.deepEqual(result.columns, ["figure", "pylon", "socket.io", "ws", "pylon/socket.io", "pylon/ws"]);
  assert.equal(result.mode, "quick");
  const ids = result.figures.map((f: { id: string }) => f.id);
  assert.deepEqual(ids, ["echo.1.ops_per_s", "echo.1.p99_ms", "echo.1.cpu_us_per_op"]);
  assert.equal(result.table.length, 3);
  for (const row of result.table) assert.equal(row.length, 6);
  for (const f of result.figures) {
    for (const server of ["pylon", "socketio", "ws"]) assert.equal(typeof f.values[server], "number", `${f.id} ${server}`);
    assert.equal(typeof f.ratios.pylon_socketio, "number");
  }
  assert.deepEqual(result.errors, []);
  assert.match(bench.stdout(), /\| figure +\| +pylon \| socket\.io \|/);
});
