import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Debian package that provides each system binary the tests use. */
const DEBIAN_PACKAGES: Record<string, string> = {
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
  nginx: "nginx-light",
  chromium: "chromium",
  ip: "iproute2",
  taskset: "util-linux",
};

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the path of a required system binary: the first existing candidate (absolute paths, or bare names looked up
 * on PATH). Throws a LOUD error when none exists — tests never skip for a missing binary.
 */
export function requireBinary(name: string, candidates: readonly string[] = [name], debianPackage?: string): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const c of candidates.length ? candidates : [name]) {
    if (c.includes("/")) {
      if (executable(c)) return c;
      continue;
    }
    for (const d of dirs) {
      const p = join(d, c);
      if (executable(p)) return p;
    }
  }
  const pkg = debianPackage ?? DEBIAN_PACKAGES[name] ?? name;
  throw new Error(`MISSING SYSTEM BINARY ${name}: install ${pkg} (CI installs it via .ci/run)`);
}
