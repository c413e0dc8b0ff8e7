#!/usr/bin/env node
import { EXIT, stdio, type Io } from "./output.js";

type Command = (argv: readonly string[], io: Io) => Promise<number | "running"> | number | "running";

/** Each command is loaded on demand so `pylon serve` does not pay for the tools. Features add their command here. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: { summary: "run a Pylon node", load: async () => (await import("./serve.js")).serveCommand },
  config: { summary: "config check [FILE] | config docs", load: async () => (await import("./config-cmd.js")).configCommand },
  doctor: { summary: "doctor <url>: diagnose a deployment through its proxy (upgrade, buffering, affinity, idle timeout ...)", load: async () => (await import("./doctor.js")).doctorCommand },
  token: { summary: "token keygen | token mint (test keys and tokens)", load: async () => (await import("./token.js")).tokenCommand },
  load: { summary: "load <url> --scenario connect|churn|storm|broadcast|echo: generate load", load: async () => (await import("./load.js")).loadCommand },
  canary: { summary: "canary <url>: synthetic clients, broadcasts and an SLO gate (exit 1 when breached)", load: async () => (await import("./canary.js")).canaryCommand },
};

function usage(io: Io): void {
  io.err("usage: pylon <command> [options]\n\ncommands:");
  for (const [name, c] of Object.entries(COMMANDS)) io.err(`  ${name.padEnd(8)} ${c.summary}`);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    usage(stdio);
    process.exit(name === "--help" || name === "help" ? EXIT.ok : EXIT.usage);
  }
  const result = await (await command.load())(rest, stdio);
  if (result !== "running") process.exit(result);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`pylon: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(EXIT.failed);
});
