#!/usr/bin/env node
// `npm run test:soak`: runs the soak tests (test/soak: slow consumer, memory hygiene) at full size, one file at a time
// so each measures its own server undisturbed, passes their output through, and ends with one summary line:
//   soak: cycles=N heapDeltaMB=X slowConsumerRssDeltaMB=Y
// Exit code: the test run's (non-zero when a test failed or a figure is missing).
// The soak files run with node's test runner directly (not scripts/run-tests.mjs) because a full-size soak may take
// longer than that runner's 5-minute per-test timeout: here the limit is 2 hours per file.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const env = { ...process.env, PYLON_TEST_SIZE: process.env.PYLON_TEST_SIZE ?? "full" };
const targets = process.argv.slice(2);
const files = targets.length ? targets : readdirSync("test/soak").filter((f) => f.endsWith(".test.ts")).sort().map((f) => join("test/soak", f));
const build = spawnSync("npm", ["run", "-s", "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const args = ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=7200000", "--test-force-exit", ...files];
const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "inherit"] });
let out = "";
child.stdout.setEncoding("utf8");
child.stdout.on("data", (d) => {
  process.stdout.write(d);
  out = (out + d).slice(-1_000_000);
});
child.on("exit", (code, signal) => {
  const memory = /soak-memory-hygiene: cycles=(\d+) heapDeltaMB=(-?[\d.]+)/.exec(out);
  const slow = /soak-slow-consumer: rssDeltaMB=(-?[\d.]+)/.exec(out);
  const cycles = memory?.[1] ?? "n/a";
  const heap = memory?.[2] ?? "n/a";
  const rss = slow?.[1] ?? "n/a";
  console.log(`soak: cycles=${cycles} heapDeltaMB=${heap} slowConsumerRssDeltaMB=${rss}`);
  const status = code ?? (signal ? 1 : 0);
  process.exit(status !== 0 ? status : memory && slow ? 0 : 1);
});
