import { parseArgs, type ParseArgsConfig } from "node:util";

/** Output helpers shared by CLI commands: commands return results; rendering lives here. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Io = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : t + "\n"),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
};

/** Exit codes used by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;
type Values<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: O }>>["values"];

/** A parsed `pylon <command> <url> [options]` call, or the exit code already reported (usage error or --help). */
export interface UrlCommand<O extends OptionsConfig> {
  url: string;
  values: Values<O>;
  /** Reports a usage error with the usage text; returns the usage exit code. */
  bad(msg: string): number;
}

/** Parses `<url> [options]` for commands that take one URL (doctor, canary): --help, unknown options, missing URL. */
export function parseUrlCommand<O extends OptionsConfig & { help: { type: "boolean" } }>(
  name: string,
  argv: readonly string[],
  options: O,
  usage: string,
  io: Io,
): UrlCommand<O> | number {
  const bad = (msg: string): number => {
    io.err(`pylon ${name}: ${msg}\n${usage}`);
    return EXIT.usage;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options });
  } catch (err) {
    io.err(`${(err as Error).message}\n${usage}`);
    return EXIT.usage;
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.out(usage);
    return EXIT.ok;
  }
  const url = parsed.positionals[0];
  if (!url) return bad("a URL is required");
  return { url, values: parsed.values as Values<O>, bad };
}
