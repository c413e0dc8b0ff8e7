#!/usr/bin/env node
// `npm run test:soak`: runs the soak tests (test/soak: slow consumer, memory hygiene) at full size, one file at a time
// so each measures its own server undisturbed, passes their output through, and ends with one summary line:
//   soak: cycles=N heapDeltaMB=X slowConsumerRssDeltaMB=Y
// Exit code: the test run's (non-zero when a test failed or a figure is missing).
import { spawn } from "node:child_process";

const env = { ...process.env, PYLON_TEST_SIZE: process.env.PYLON_TEST_SIZE ?? "full", PYLON_TEST_CONCURRENCY: process.env.PYLON_TEST_CONCURRENCY ?? "1" };
const targets = process.argv.slice(2);
const child = spawn(process.execPath, ["scripts/run-tests.mjs", ...(targets.length ? targets : ["test/soak"])], { env, stdio: ["ignore", "pipe", "inherit"] });
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
