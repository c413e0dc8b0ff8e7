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
