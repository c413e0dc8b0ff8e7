import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type LaunchOptions } from "playwright-core";
import { requireBinary } from "./binaries.js";
import { registerCloser } from "./cleanup.js";
import { REPO_ROOT } from "./paths.js";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Debian's Chromium through playwright-core; closed by useCleanup() at the end of the file. */
export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  const executablePath = requireBinary("chromium", ["/usr/bin/chromium"]);
  const { args = [], ...rest } = opts;
  const browser = await chromium.launch({ ...rest, executablePath, args: [...CHROMIUM_ARGS, ...args] });
  const unregister = registerCloser(() => browser.close());
  browser.once("disconnected", () => unregister());
  return browser;
}

/** `test-artifacts/<name>` at the repo root (the directory is created). */
export function artifactPath(name: string): string {
  const dir = join(REPO_ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
