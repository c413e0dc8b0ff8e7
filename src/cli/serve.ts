import { ConfigError, loadConfigFromProcess, type LoadedConfig } from "../config/index.js";
import { createPylon, type Pylon } from "../server/pylon.js";
import { defaultModules } from "../server/modules.js";
import { EXIT, type Io } from "./output.js";
import { exitWithPrimary, serveRole } from "./workers.js";

/** Loads config or prints the ConfigError and returns undefined. */
export function loadOrReport(argv: readonly string[], io: Io): LoadedConfig | undefined {
  try {
    return loadConfigFromProcess(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return undefined;
    }
    throw err;
  }
}

/** `pylon serve [--port N] [--host H] [--config FILE] [--<field> VALUE ...]`: runs one node until SIGTERM/SIGINT. */
export async function serveCommand(argv: readonly string[], io: Io): Promise<number | "running"> {
  const loaded = loadOrReport(argv, io);
  if (!loaded) return EXIT.usage;
  const role = serveRole(loaded.config, process.stdout.isTTY === true); // --workers: fork (primary) or adjust (worker)
  if (role.role === "primary") return "running";
  const pylon = createPylon(role.config, { isTTY: process.stdout.isTTY === true, modules: defaultModules(role.config) });
  exitWithPrimary(pylon);
  for (const w of loaded.warnings) pylon.logger.warn(w);
  if (loaded.file) pylon.logger.info({ file: loaded.file }, "config file loaded");
  try {
    await pylon.start();
  } catch (err) {
    pylon.logger.fatal({ err }, "failed to start");
    await pylon.close();
    return EXIT.failed;
  }
  installSignals(pylon, argv);
  return "running";
}

function installSignals(pylon: Pylon, argv: readonly string[]): void {
  const stop = (signal: string): void => {
    pylon.logger.info({ signal }, "shutting down (drain)");
    pylon.drain().then(
      () => process.exit(EXIT.ok),
      (err: unknown) => {
        pylon.logger.fatal({ err }, "drain failed");
        process.exit(EXIT.failed);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    try {
      pylon.reload(loadConfigFromProcess(argv).config);
    } catch (err) {
      pylon.logger.error({ err: err instanceof ConfigError ? err.message : err }, "reload refused: invalid configuration (keeping the running one)");
    }
  });
}
