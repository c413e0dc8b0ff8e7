import { configReference, maskSecrets } from "../config/index.js";
import { loadOrReport } from "./serve.js";
import { EXIT, type Io } from "./output.js";

/** `pylon config check [FILE] [flags]`: validates and prints the effective config (secrets masked). `pylon config docs`: the reference. */
export function configCommand(argv: readonly string[], io: Io): number {
  const [sub, ...rest] = argv;
  if (sub === "docs") {
    io.out(configReference());
    return EXIT.ok;
  }
  if (sub === "check") {
    const args = rest[0] && !rest[0].startsWith("--") ? ["--config", rest[0], ...rest.slice(1)] : rest;
    const loaded = loadOrReport(args, io);
    if (!loaded) return EXIT.usage;
    for (const w of loaded.warnings) io.err(`warning: ${w}`);
    io.out(JSON.stringify({ file: loaded.file ?? null, config: maskSecrets(loaded.config) }, null, 2));
    return EXIT.ok;
  }
  io.err("usage: pylon config check [FILE] [--<field> VALUE ...] | pylon config docs");
  return EXIT.usage;
}
