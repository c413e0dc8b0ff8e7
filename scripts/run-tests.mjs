#!/usr/bin/env node
// Runs the test suites with node's test runner (TypeScript through tsx), after building dist/ (tests spawn the
// real `pylon` CLI from dist/). Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: test/)
// Env: PYLON_TEST_CONCURRENCY (files run at once, default 2), PYLON_TEST_SIZE=full for full-size fault/soak runs,
// PYLON_TEST_TIMEOUT_MS (per test, default 300000; the full-size runs set more).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const e of readdirSync(path).sort()) if (e !== "node_modules" && e !== "fixtures") collect(join(path, e), out);
  } else if (/\.test\.ts$/.test(path)) out.push(path);
  return out;
}

const targets = process.argv.slice(2);
const files = (targets.length ? targets : ["test"]).flatMap((t) => collect(t, []));
if (files.length === 0) {
  console.error("run-tests: no test files found in", targets.join(" ") || "test");
  process.exit(1);
}

const build = spawnSync("npm", ["run", "-s", "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const concurrency = process.env.PYLON_TEST_CONCURRENCY ?? "2";
// --test-force-exit: a file whose tests are done exits even if a client library keeps a socket or timer alive
// (e.g. fetch keep-alive); servers under test are separate processes, killed by the harness.
// --test-timeout: no single test may hang the run; the slowest test of `npm test` takes well under 5 minutes.
const timeoutMs = process.env.PYLON_TEST_TIMEOUT_MS ?? "300000";
const args = ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, "--test-force-exit", ...files];
const run = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(run.status ?? 1);
