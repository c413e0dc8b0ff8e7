/**
 * The load engine: simulated clients against a socket.io (or raw ws) server, shared by `pylon load`, `npm run bench`
 * and the canary.
 *
 * Two levels:
 *  - `runScenario(options, hooks?) -> LoadReport`: one bounded run of a named scenario
 *      connect   ramp to `clients` connections at `rate`/s over the `transports` mix, hold `duration` s
 *      churn     each client runs `churn.cycles` connect -> hold `churn.holdMs` -> disconnect cycles
 *      storm     connect, then every client drops and reconnects at the same moment (`storm.rounds` times)
 *      broadcast clients join `broadcast.rooms` rooms; a trigger sends ticks of `broadcast.burst` broadcasts per room at
 *                `broadcast.rate` ticks/s (or closed loop with `broadcast.window` ticks in flight); completeness and
 *                end-to-end latency from the timestamp carried in the payload
 *      echo      every client emits `echo` with an ack, `echo.inflight` outstanding each, for `duration` s
 *    `options` is `LoadOptionsInput` (see options.ts); `loadScenarioFile(path)` reads the same object from YAML or JSON.
 *  - `LoadSession`: the phases (connect, join, broadcast, echo, storm, churn, disconnect) one by one, for callers that
 *    measure something between phases (the bench reads server CPU around each).
 *
 * Protocols: `socketio` (official socket.io-client, demo contract echo/join/say on a namespace) and `ws` (raw `ws`
 * client speaking the JSON frames of bench/servers/raw-ws.ts: {t:"join"|"echo"|"say", id?, room?, d?, text?}).
 * Broadcasts are made by a `BroadcastTrigger`: `ClientTrigger` (a client of its own that joins and `say`s) by default;
 * pass another (e.g. an HTTP publish API) in `hooks.trigger`.
 * Clients live in worker threads (client i in worker i % workers). Latencies are HDR histograms in microseconds,
 * merged across workers and reported in milliseconds (p50/p90/p99/p999/max). Every phase has a deadline; a run also
 * has a hard stop at `deadline` + 15 s.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { LoadOptionsError, parseLoadOptions, type LoadOptions } from "./options.js";

export {
  SCENARIOS,
  PROTOCOLS,
  TRANSPORTS,
  loadOptionsSchema,
  parseLoadOptions,
  parseTransportMix,
  transportFor,
  defaultPath,
  LoadOptionsError,
  type LoadOptions,
  type LoadOptionsInput,
  type ScenarioName,
  type ProtocolName,
  type TransportKind,
  type TransportMix,
} from "./options.js";
export { runScenario, type LoadReport, type LoadProgress, type RunHooks } from "./scenarios.js";
export {
  LoadSession,
  type SessionOptions,
  type ConnectResult,
  type BroadcastPlan,
  type BroadcastResult,
  type EchoResult,
  type StormResult,
  type ChurnResult,
  type SessionStatus,
} from "./session.js";
export { ClientTrigger, type BroadcastTrigger } from "./trigger.js";
export { createClient, type LoadClient, type ClientSpec } from "./clients.js";
export { newHistogram, recordMs, encodeHistogram, mergeEncoded, summarize, summarizeEncoded, type LatencySummary } from "./histogram.js";
export { monotonicMs, nowMs } from "./text.js";

/** Reads a scenario file (YAML or JSON; same keys as LoadOptions) and merges `overrides` on top (shallow per section). */
export async function loadScenarioFile(path: string, overrides: Record<string, unknown> = {}): Promise<LoadOptions> {
  const text = await readFile(path, "utf8");
  let data: unknown;
  try {
    data = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new LoadOptionsError(`${path}: ${(err as Error).message}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new LoadOptionsError(`${path}: expected a mapping of load options`);
  return parseLoadOptions(mergeOptions(data as Record<string, unknown>, overrides));
}

/** Merges option objects: nested sections (churn, storm, broadcast, echo, transports) are merged key by key. */
export function mergeOptions(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b) && k !== "transports") {
      out[k] = { ...(b as Record<string, unknown>), ...(v as Record<string, unknown>) };
    } else out[k] = v;
  }
  return out;
}
