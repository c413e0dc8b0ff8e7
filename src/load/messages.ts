import type { ProtocolName, TransportMix } from "./options.js";

/** Where and how every load client connects; shared by the session options and each worker's start data. */
export interface ClientTarget {
  url: string;
  protocol: ProtocolName;
  namespace: string;
  path: string;
  localAddresses: string[];
  /** socket.io `auth` payload and extra handshake headers for every client (optional). */
  auth?: Record<string, unknown>;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** Static data a worker starts with. Worker `index` of `count` owns the global client indices i with i % count === index. */
export interface WorkerInit extends ClientTarget {
  index: number;
  count: number;
}

/** Commands main -> worker. Every command carries an absolute deadline (epoch ms) past which it starts no new work. */
export type WorkerCommand =
  | { cmd: "connect"; from: number; to: number; rate: number; concurrency: number; mix: TransportMix; deadlineAt: number }
  | { cmd: "join"; room: string; from: number; to: number; deadlineAt: number }
  | { cmd: "phase"; phase: string; rooms: string[]; burst: number }
  | { cmd: "collect" }
  | { cmd: "echo"; clients: number; durationMs: number; inflight: number; payloadBytes: number; maxOps: number; deadlineAt: number }
  | { cmd: "storm"; deadlineAt: number }
  | {
      cmd: "churn";
      from: number;
      to: number;
      cycles: number;
      holdMs: number;
      durationMs: number;
      rate: number;
      concurrency: number;
      mix: TransportMix;
      deadlineAt: number;
    }
  | { cmd: "disconnect"; from: number; to: number }
  | { cmd: "status" }
  | { cmd: "close" };

export type Errors = Record<string, number>;

export interface ConnectReply {
  attempted: number;
  connected: number;
  failed: number;
  errors: Errors;
  /** Encoded HDR histogram (us) of connect times. */
  latency: string;
  deadlineHit: boolean;
}

export interface JoinReply {
  joined: number;
  failed: number;
  errors: Errors;
}

export interface PhaseReply {
  /** Members of the phase's rooms this worker holds (connected at phase start). */
  members: number;
}

export interface CollectReply {
  received: number;
  stale: number;
  firstRecvAt: number;
  lastRecvAt: number;
  latency: string;
}

export interface EchoReply {
  clients: number;
  ops: number;
  failed: number;
  errors: Errors;
  latency: string;
  startedAt: number;
  endedAt: number;
  deadlineHit: boolean;
}

export interface StormReply {
  clients: number;
  reconnected: number;
  failed: number;
  errors: Errors;
  latency: string;
  startedAt: number;
  allBackAt: number;
  deadlineHit: boolean;
}

export interface ChurnReply {
  connects: number;
  disconnects: number;
  failed: number;
  cycles: number;
  errors: Errors;
  latency: string;
  deadlineHit: boolean;
}

export interface StatusReply {
  connected: number;
  drops: number;
  received: number;
  ops: number;
}

/** Worker -> main. `tick` is sent when every member this worker holds has received every broadcast of that tick. */
export type WorkerEvent =
  | { type: "reply"; id: number; ok: true; result: unknown }
  | { type: "reply"; id: number; ok: false; error: string }
  | { type: "tick"; phase: string; tick: number };

export function addErrors(into: Errors, from: Errors): Errors {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}
