import type { LoggedMessage, StreamMessage } from "../protocol/streams.js";

/** Retention of one stream: count (approximate on Redis), age and, for the memory log, bytes. */
export interface Retention {
  maxCount: number;
  /** 0: no age limit. */
  maxAgeMs: number;
  maxBytes: number;
}

export interface AppendInput {
  event: string;
  /** The data, already JSON-encoded (encoded once by the caller). */
  dataJson: string;
  ts: number;
  /** Publish id: an append retried with the same id returns the first append's position instead of appending again. */
  id: string;
}

export interface Appended {
  epoch: string;
  seq: number;
  /** True when this id was appended before (a retry): nothing new was appended. */
  duplicate: boolean;
}

export interface ReadResult {
  epoch: string;
  /** Last seq of the stream (0: none yet). */
  head: number;
  /** Oldest seq the log still holds (head + 1 when it holds nothing). */
  oldest: number;
  /** Messages with seq > after, ascending, consecutive, at most `limit`. */
  messages: LoggedMessage[];
}

/** Called for every appended message, in seq order per stream (on every node, for the Redis log). */
export type AppendListener = (msg: StreamMessage) => void;

/**
 * The seam between streams and their storage. One implementation per backend (memory ring, Redis Streams), all
 * under the same contract suite (test/unit/delivery-log-contract.ts). Positions are `{epoch, seq}`: seq is
 * gap-free and assigned atomically by the log; the epoch changes when the log is lost or recreated.
 */
export interface StreamLog {
  readonly kind: "memory" | "redis";
  append(stream: string, input: AppendInput): Promise<Appended>;
  /** Messages after `after` (exclusive), up to `limit`. Never a partial answer: `oldest > after + 1` means trimmed. */
  read(stream: string, after: number, limit: number): Promise<ReadResult>;
  /** Current epoch and head of the stream (creates the epoch when the stream is new). */
  head(stream: string): Promise<{ epoch: string; head: number }>;
  /** Live feed of appended messages. Returns a disposer. */
  watch(listener: AppendListener): () => void;
  /** Called when the live feed may have missed messages (backplane reconnect): check positions now. */
  onFeedGap(listener: () => void): () => void;
  /** Whether the log can serve requests now. */
  healthy(): boolean;
  close(): Promise<void>;
}

/** Picks the retention of a stream: the first rule whose glob matches, else the defaults. */
export function retentionFor(
  stream: string,
  defaults: Retention,
  rules: readonly { pattern: string; maxCount?: number | undefined; maxAgeMs?: number | undefined; maxBytes?: number | undefined }[],
  cache: Map<string, Retention>,
): Retention {
  const hit = cache.get(stream);
  if (hit) return hit;
  let r = defaults;
  for (const rule of rules) {
    if (globMatch(rule.pattern, stream)) {
      r = { maxCount: rule.maxCount ?? defaults.maxCount, maxAgeMs: rule.maxAgeMs ?? defaults.maxAgeMs, maxBytes: rule.maxBytes ?? defaults.maxBytes };
      break;
    }
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(stream, r);
  return r;
}

export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
  return re.test(name);
}
