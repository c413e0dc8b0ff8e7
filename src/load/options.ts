import { z } from "zod";

/**
 * The options of one load run. A scenario file (YAML or JSON) maps 1:1 onto this object: every key of the file is a
 * key here, every key has a default, so `{ url, scenario }` is a complete run description.
 */
export const SCENARIOS = ["connect", "churn", "storm", "broadcast", "echo"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const PROTOCOLS = ["socketio", "ws"] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

export const TRANSPORTS = ["websocket", "polling", "upgrade"] as const;
/** websocket: websocket only; polling: long-polling only; upgrade: polling first, then upgrade to websocket. */
export type TransportKind = (typeof TRANSPORTS)[number];

const transportMix = z
  .object({
    websocket: z.number().min(0).default(1),
    polling: z.number().min(0).default(0),
    upgrade: z.number().min(0).default(0),
  })
  .strict()
  .refine((m) => m.websocket + m.polling + m.upgrade > 0, "transport weights must not all be 0");

export const loadOptionsSchema = z
  .object({
    url: z.string().url(),
    scenario: z.enum(SCENARIOS).default("connect"),
    /** socketio: the official socket.io-client; ws: raw `ws` client speaking the JSON protocol of bench/servers/raw-ws.ts. */
    protocol: z.enum(PROTOCOLS).default("socketio"),
    /** socket.io namespace (ignored by the ws protocol). */
    namespace: z.string().regex(/^\//).default("/demo"),
    /** Engine.IO path (socketio) or the WebSocket path (ws). Empty: /socket.io/ for socketio, / for ws. */
    path: z.string().default(""),
    /** Connections (connect/churn/storm/broadcast receivers) or echo clients. */
    clients: z.number().int().min(1).max(200_000).default(100),
    /** Connection ramp in new connections per second; 0 = as fast as `concurrency` allows. */
    rate: z.number().min(0).max(1_000_000).default(0),
    /** Handshakes in flight at once (whole run, shared across workers). */
    concurrency: z.number().int().min(1).max(100_000).default(200),
    /** Transport weights (socketio only; normalised). */
    transports: transportMix.default({ websocket: 1, polling: 0, upgrade: 0 }),
    /** Seconds of the measured phase: hold (connect), churn time, echo time, broadcast time. */
    duration: z.number().min(0).max(86_400).default(5),
    /** Hard deadline of the whole run in seconds; the run is cut off (and reports `deadlineHit`) past it. */
    deadline: z.number().min(1).max(86_400).default(120),
    /** Worker threads holding the clients; 0 = one per available core (at most 8). */
    workers: z.number().int().min(0).max(64).default(0),
    /** Loopback source addresses to spread connections over (for more than ~28k connections per source IP). */
    localAddresses: z.array(z.string()).default([]),
    /** socket.io `auth` payload sent with every namespace connect (e.g. { token }). */
    auth: z.record(z.string(), z.unknown()).default({}),
    /** Extra HTTP headers on every handshake request (e.g. Authorization, Origin). */
    headers: z.record(z.string(), z.string()).default({}),
    /** Timeout of one handshake or one ack (ms). */
    timeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    churn: z
      .object({
        /** Connect/disconnect cycles per client (bounded also by duration). */
        cycles: z.number().int().min(1).max(1_000_000).default(5),
        /** How long each connection is held before it disconnects (ms). */
        holdMs: z.number().int().min(0).max(3_600_000).default(100),
      })
      .strict()
      .default({ cycles: 5, holdMs: 100 }),
    storm: z
      .object({
        /** How many times all clients drop and reconnect at once. */
        rounds: z.number().int().min(1).max(100).default(1),
      })
      .strict()
      .default({ rounds: 1 }),
    broadcast: z
      .object({
        /** Rooms the clients are spread over (client i joins room i % rooms). */
        rooms: z.number().int().min(1).max(100_000).default(1),
        /** Broadcast ticks per second (each tick sends `burst` broadcasts to every room). */
        rate: z.number().min(0.1).max(100_000).default(20),
        /** Broadcasts sent back to back in one tick. */
        burst: z.number().int().min(1).max(1000).default(1),
        /** Stop after this many ticks (in addition to `duration`). 0 = no count limit. */
        count: z.number().int().min(0).max(100_000_000).default(0),
        /** 0: open loop at `rate`. N > 0: closed loop, the next tick is sent once fewer than N ticks are not yet fully received (measures maximum throughput). */
        window: z.number().int().min(0).max(10_000).default(0),
        /** Padding added to each payload (bytes). */
        payloadBytes: z.number().int().min(0).max(1_000_000).default(0),
        /** Time to wait for stragglers after the last broadcast (ms). */
        settleMs: z.number().int().min(0).max(600_000).default(5000),
      })
      .strict()
      .default({ rooms: 1, rate: 20, burst: 1, count: 0, window: 0, payloadBytes: 0, settleMs: 5000 }),
    echo: z
      .object({
        /** Acks outstanding per client (closed loop). */
        inflight: z.number().int().min(1).max(10_000).default(1),
        /** Payload size (bytes). */
        payloadBytes: z.number().int().min(0).max(1_000_000).default(16),
        /** Stop after this many ops in total (in addition to `duration`). 0 = no count limit. */
        maxOps: z.number().int().min(0).max(1_000_000_000).default(0),
      })
      .strict()
      .default({ inflight: 1, payloadBytes: 16, maxOps: 0 }),
  })
  .strict();

export type LoadOptions = z.output<typeof loadOptionsSchema>;
export type LoadOptionsInput = z.input<typeof loadOptionsSchema>;
export type TransportMix = LoadOptions["transports"];

/** Validates and fills defaults; throws a `LoadOptionsError` listing every problem. */
export function parseLoadOptions(input: unknown): LoadOptions {
  const r = loadOptionsSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new LoadOptionsError(`invalid load options:\n${lines.join("\n")}`);
  }
  return r.data;
}

export class LoadOptionsError extends Error {
  override readonly name = "LoadOptionsError";
}

/** Parses a mix like `ws:0.5,polling:0.2,upgrade:0.3` (websocket may be written ws). */
export function parseTransportMix(text: string): TransportMix {
  const mix = { websocket: 0, polling: 0, upgrade: 0 };
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [rawName, rawWeight] = part.split(":");
    const name = rawName === "ws" ? "websocket" : rawName;
    if (!name || !(TRANSPORTS as readonly string[]).includes(name)) {
      throw new LoadOptionsError(`unknown transport "${rawName}" (expected ws|websocket|polling|upgrade)`);
    }
    const weight = rawWeight === undefined ? 1 : Number(rawWeight);
    if (!Number.isFinite(weight) || weight < 0) throw new LoadOptionsError(`bad weight "${rawWeight}" for ${name}`);
    mix[name as TransportKind] += weight;
  }
  if (mix.websocket + mix.polling + mix.upgrade <= 0) throw new LoadOptionsError("transport weights must not all be 0");
  return mix;
}

/**
 * The transport of client number `index`: deterministic, and any prefix of the clients follows the mix closely
 * (a golden-ratio low-discrepancy sequence over the cumulative shares).
 */
export function transportFor(index: number, mix: TransportMix): TransportKind {
  const total = mix.websocket + mix.polling + mix.upgrade;
  const u = (index * 0.6180339887498949) % 1;
  let acc = 0;
  for (const t of TRANSPORTS) {
    acc += mix[t] / total;
    if (u < acc && mix[t] > 0) return t;
  }
  return mix.upgrade > 0 ? "upgrade" : mix.polling > 0 ? "polling" : "websocket";
}

/** Default Engine.IO / WebSocket path for a protocol. */
export function defaultPath(opts: Pick<LoadOptions, "protocol" | "path">): string {
  if (opts.path) return opts.path;
  return opts.protocol === "ws" ? "/" : "/socket.io/";
}
