import type { Counter } from "prom-client";

/** Counts of one (namespace, event) pair. Plain numbers: the hot path does `tally.in++`, no label hashing. */
export class EventTally {
  in = 0;
  out = 0;
  #flushedIn = 0;
  #flushedOut = 0;
  readonly labels: { namespace: string; event: string };

  constructor(namespace: string, event: string) {
    this.labels = { namespace, event };
  }

  /** Moves what was counted since the last scrape into the Prometheus counters. */
  flush(inCounter: Counter<"namespace" | "event">, outCounter: Counter<"namespace" | "event">): void {
    if (this.in !== this.#flushedIn) {
      inCounter.inc(this.labels, this.in - this.#flushedIn);
      this.#flushedIn = this.in;
    }
    if (this.out !== this.#flushedOut) {
      outCounter.inc(this.labels, this.out - this.#flushedOut);
      this.#flushedOut = this.out;
    }
  }
}

/** The tallies of one namespace: one per declared event name, plus "other". */
export class NamespaceTallies {
  readonly #byName = new Map<string, EventTally>();
  readonly other: EventTally;

  constructor(readonly namespace: string, names: Iterable<string>) {
    this.other = new EventTally(namespace, "other");
    for (const n of names) this.add(n);
  }

  add(name: string): void {
    if (!this.#byName.has(name)) this.#byName.set(name, new EventTally(this.namespace, name));
  }

  /** The tally for an event name (the `other` bucket for undeclared names). */
  get(name: string): EventTally {
    return this.#byName.get(name) ?? this.other;
  }

  *all(): IterableIterator<EventTally> {
    yield* this.#byName.values();
    yield this.other;
  }
}

/** Upper bound of declared event names (label cardinality: namespaces (<= 64) x names). */
export const MAX_DECLARED_EVENTS = 256;
const NAME_RE = /^[A-Za-z0-9_:.\-/]{1,64}$/;

/**
 * Events in/out by namespace and declared event name. Undeclared names are counted as "other", so a client
 * sending random event names cannot grow the label set.
 */
export class EventCounters {
  readonly #declared = new Set<string>();
  readonly #namespaces = new Map<string, NamespaceTallies>();

  /** Declares event names; returns the names refused (invalid, or over MAX_DECLARED_EVENTS). */
  declare(names: readonly string[]): string[] {
    const refused: string[] = [];
    for (const name of names) {
      if (this.#declared.has(name)) continue;
      if (!NAME_RE.test(name) || name === "other" || this.#declared.size >= MAX_DECLARED_EVENTS) {
        refused.push(name);
        continue;
      }
      this.#declared.add(name);
      for (const t of this.#namespaces.values()) t.add(name);
    }
    return refused;
  }

  get declared(): ReadonlySet<string> {
    return this.#declared;
  }

  /** The tallies of a namespace (created once per declared namespace). */
  namespace(name: string): NamespaceTallies {
    let t = this.#namespaces.get(name);
    if (!t) {
      t = new NamespaceTallies(name, this.#declared);
      this.#namespaces.set(name, t);
    }
    return t;
  }

  *all(): IterableIterator<EventTally> {
    for (const t of this.#namespaces.values()) yield* t.all();
  }

  flush(inCounter: Counter<"namespace" | "event">, outCounter: Counter<"namespace" | "event">): void {
    for (const tally of this.all()) tally.flush(inCounter, outCounter);
  }

  /** Totals (all namespaces) by event name, for the admin API. */
  totals(): Map<string, { in: number; out: number }> {
    const out = new Map<string, { in: number; out: number }>();
    for (const t of this.all()) {
      const name = t.labels.event;
      const cur = out.get(name) ?? { in: 0, out: 0 };
      cur.in += t.in;
      cur.out += t.out;
      out.set(name, cur);
    }
    return out;
  }
}
