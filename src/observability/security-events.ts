import type { Counter } from "prom-client";

/** What a module reports: a short stable type code and a few whitelisted fields. Never tokens or payloads. */
export interface SecurityEventInput {
  /** Short stable code, e.g. "auth_failed", "rate_limited", "forbidden" (the ERROR_CODES names). */
  type: string;
  namespace?: string;
  /** Client address (ctx.clientAddress(req)). */
  address?: string;
  userId?: string;
  /** Short human text; truncated to MAX_TEXT characters. */
  detail?: string;
}

/** A recorded event: the input plus when it happened. */
export interface SecurityEvent extends SecurityEventInput {
  at: string;
}

const MAX_TEXT = 200;
const MAX_TYPES = 32;
const TYPE_RE = /^[a-z0-9_.:-]{1,48}$/i;

function clip(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const str = String(s);
  return str.length > MAX_TEXT ? str.slice(0, MAX_TEXT) : str;
}

/**
 * Recent security events of this node (auth failures, rate limits, forbidden subscriptions, admin token failures ...):
 * a fixed-size ring buffer fed by the security modules and shown on the admin dashboard, plus a counter by type.
 * Memory is bounded: `capacity` entries of clipped strings, at most MAX_TYPES distinct metric labels.
 */
export class SecurityEvents {
  readonly capacity: number;
  readonly #ring: (SecurityEvent | undefined)[];
  #next = 0;
  #size = 0;
  readonly #counter: Counter<"type"> | undefined;
  readonly #types = new Set<string>();

  constructor(capacity: number, counter?: Counter<"type">) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.#ring = new Array<SecurityEvent | undefined>(this.capacity);
    this.#counter = counter;
  }

  /** Records one event (O(1)); the oldest is overwritten when the buffer is full. */
  record(e: SecurityEventInput): void {
    const type = TYPE_RE.test(e.type) ? e.type : "other";
    const entry: SecurityEvent = { type, at: new Date().toISOString() };
    if (e.namespace !== undefined) entry.namespace = clip(e.namespace)!;
    if (e.address !== undefined) entry.address = clip(e.address)!;
    if (e.userId !== undefined) entry.userId = clip(e.userId)!;
    if (e.detail !== undefined) entry.detail = clip(e.detail)!;
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
    if (this.#counter) {
      if (!this.#types.has(type) && this.#types.size < MAX_TYPES) this.#types.add(type);
      this.#counter.inc({ type: this.#types.has(type) ? type : "other" });
    }
  }

  /** The newest events first (at most `limit`). */
  recent(limit = this.capacity): SecurityEvent[] {
    const n = Math.min(limit, this.#size);
    const out: SecurityEvent[] = [];
    for (let i = 1; i <= n; i++) {
      const e = this.#ring[(this.#next - i + this.capacity) % this.capacity];
      if (e) out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.#size;
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
