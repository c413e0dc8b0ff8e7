import { pino, type Logger, type LoggerOptions } from "pino";
import type { PylonConfig } from "../config/index.js";

export type { Logger } from "pino";

export interface LoggerDeps {
  /** Whether stdout is a terminal (for log.pretty = auto). */
  isTTY: boolean;
  /** Destination stream; defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/**
 * The operations log: pino JSON (pretty on a TTY). Fields are whitelisted by callers; tokens and payloads are never logged.
 * Redaction is a second line of defence for the usual secret-bearing keys.
 */
export function createLogger(config: PylonConfig["log"], deps: LoggerDeps, bindings: Record<string, unknown> = {}): Logger {
  const pretty = config.pretty === "always" || (config.pretty === "auto" && deps.isTTY);
  const options: LoggerOptions = {
    level: config.level,
    base: { pid: process.pid, ...bindings },
    redact: { paths: ["token", "*.token", "authorization", "*.authorization", "password", "*.password", "redisUrl", "*.redisUrl"], censor: "***" },
  };
  if (pretty) {
    return pino({ ...options, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" } } });
  }
  return deps.destination ? pino(options, deps.destination) : pino(options);
}
