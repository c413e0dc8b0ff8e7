/**
 * Wire contract of Pylon streams and idempotent commands: reserved Socket.IO event names and their payloads.
 * Shared by the server (src/delivery) and the client SDK (src/client). Specified in docs/protocol.md.
 * This file has no runtime dependencies so the browser bundle can import it.
 */

/** Reserved event names (client -> server and server -> client). Applications must not use the `pylon:` prefix. */
export const STREAM_EVENTS = {
  /** c->s, with ack: SubscribeRequest -> SubscribeAck. */
  subscribe: "pylon:subscribe",
  /** c->s, with ack: UnsubscribeRequest -> { ok: true } | ErrorAck. */
  unsubscribe: "pylon:unsubscribe",
  /** s->c: one live StreamMessage. */
  message: "pylon:msg",
  /** s->c: a batch of replayed messages (ReplayBatch), in order. */
  batch: "pylon:batch",
  /** s->c: ResyncNotice, the position could not be continued without a hole. */
  resync: "pylon:resync",
  /** s->c: PositionNotice, the head this node has delivered (periodic). */
  position: "pylon:position",
  /** c->s, with ack: CommandRequest -> CommandAck. */
  command: "pylon:command",
} as const;

/** The prefix every reserved event starts with. */
export const RESERVED_PREFIX = "pylon:";

/** Stream names: 1-128 chars of letters, digits and `_ : . - @`. */
export const STREAM_NAME_RE = /^[A-Za-z0-9_:.@-]{1,128}$/;
/** Command names: 1-64 chars of letters, digits and `_ : . -`. */
export const COMMAND_NAME_RE = /^[A-Za-z0-9_:.-]{1,64}$/;
/** Idempotency keys: 8-128 chars of letters, digits and `_ : . -`. */
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_:.-]{8,128}$/;
/** Reply streams start with this prefix followed by the client id (`_reply.<clientId>`). */
export const REPLY_STREAM_PREFIX = "_reply.";

/** A position in a stream: the epoch identifies one incarnation of the stream's log, seq counts from 1. */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

/** One entry of a stream's log as it crosses the wire inside a batch. */
export interface LoggedMessage {
  seq: number;
  event: string;
  data: unknown;
  /** Publish time, ms since the Unix epoch (publisher's clock). */
  ts: number;
}

/** `pylon:msg` payload. */
export interface StreamMessage extends LoggedMessage {
  stream: string;
  epoch: string;
}

/** `pylon:batch` payload: replayed messages, consecutive seqs in ascending order. */
export interface ReplayBatch {
  stream: string;
  epoch: string;
  messages: LoggedMessage[];
}

/** `pylon:subscribe` request. Omit `after` to start live at the current head. */
export interface SubscribeRequest {
  stream: string;
  /** The epoch `after` belongs to. If it differs from the stream's epoch the server answers with a resync. */
  epoch?: string;
  /** Last seq the client has: the server replays (after, head] then continues live. */
  after?: number;
}

export type ResyncReason = "epoch_changed" | "trimmed" | "ahead" | "replay_too_long";

/** `pylon:resync` payload: continue from `{epoch, head}`; messages up to head are not replayed (reload a snapshot). */
export interface ResyncNotice {
  stream: string;
  epoch: string;
  head: number;
  reason: ResyncReason;
}

/** `pylon:position` payload: every message up to `head` has been sent to this subscriber. */
export interface PositionNotice {
  stream: string;
  epoch: string;
  head: number;
}

/** The error shape of every error ack (see src/protocol/errors.ts and docs/errors.md). */
export interface WireError {
  code: string;
  message: string;
  [extra: string]: unknown;
}

export interface ErrorAck {
  ok: false;
  error: WireError;
}

/** Ack of `pylon:subscribe`. `replayed` counts messages sent in batches before this ack. */
export type SubscribeAck =
  | { ok: true; stream: string; epoch: string; head: number; replayed: number; resync: boolean }
  | ErrorAck;

export interface UnsubscribeRequest {
  stream: string;
}

export type UnsubscribeAck = { ok: true } | ErrorAck;

/** `pylon:command` request. */
export interface CommandRequest {
  name: string;
  /** Idempotency key: the handler runs at most once per (name, key); retries get the first outcome. */
  key: string;
  payload?: unknown;
  /** Reply stream for outcomes of accepted commands (`_reply.<clientId>`); optional. */
  replyTo?: string;
}

/** Final outcome of a command (cached per key and replayed to retries). */
export type CommandOutcome = { status: "ok"; key: string; result: unknown } | { status: "error"; key: string; error: WireError };

/**
 * Ack of `pylon:command`: the outcome, or `accepted` (running or queued: the outcome follows as a `command.result`
 * message on the reply stream, and a retry with the same key returns it once known).
 */
export type CommandAck = CommandOutcome | { status: "accepted"; key: string };

/** Event name of outcomes published on reply streams; data is a CommandOutcome. */
export const COMMAND_RESULT_EVENT = "command.result";
