#!/usr/bin/env node
// The security attack suite alone (`npm run test:attacks`): builds, runs the security test files with node's test
// runner, and ends with one line `attacks: tried=N rejected=R crashed=C` summed from the attempts each test records
// (test/helpers/security.ts attackTally). crashed = server processes that died during the suite.
// Env: PYLON_TEST_SIZE=full for the full-size floods and fuzzing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FILES = [
  "test/unit/security-rules.test.ts",
  "test/unit/security-jwt.test.ts",
  "test/integration/security-tokens.test.ts",
  "test/integration/security-authz.test.ts",
  "test/integration/security-fuzz.test.ts",
  "test/integration/security-rate-store.test.ts",
  "test/integration/security-flood.test.ts",
  "test/integration/security-origin.test.ts",
  "test/integration/security-sdk-refresh.test.ts",
].filter((f) => existsSync(f));

const build = spawnSync("npm", ["run", "-s", "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const dir = mkdtempSync(join(tmpdir(), "pylon-attacks-"));
const file = join(dir, "attempts.jsonl");
const run = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=600000", ...FILES], {
  stdio: "inherit",
  env: { ...process.env, PYLON_ATTACKS_FILE: file },
});

let tried = 0;
let rejected = 0;
let crashed = 0;
const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
for (const line of lines) {
  const rec = JSON.parse(line);
  if (rec.kind === "attempt") {
    tried++;
    if (rec.rejected) rejected++;
  } else if (rec.kind === "crash") crashed++;
}
rmSync(dir, { recursive: true, force: true });
console.log(`attacks: tried=${tried} rejected=${rejected} crashed=${crashed}`);
process.exit(run.status !== 0 || crashed > 0 || tried === 0 ? 1 : 0);
