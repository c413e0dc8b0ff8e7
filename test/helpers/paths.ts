import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { registerTempDir } from "./cleanup.js";

/** The repository root (two levels above test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The built CLI the tests spawn (`npm run build` produces it; scripts/run-tests.mjs builds first). */
export const CLI_PATH = join(REPO_ROOT, "dist", "cli", "main.js");

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = "pylon-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  registerTempDir(dir);
  return dir;
}
