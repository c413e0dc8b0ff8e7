import type { Counter, Gauge } from "prom-client";

/** One label set of a DeferredSeries: its count, a plain number the hot path adds to. */
export interface SeriesCell {
  value: number;
}

interface Cell<L extends string> extends SeriesCell {
  readonly labels: Record<L, string>;
  /** What the metric already holds of this cell (-1: the series does not exist in the metric yet). */
  applied: number;
}

/**
 * The per-connection series of one prom-client Counter or Gauge (handshakes, connections by namespace and transport,
 * disconnects by reason...), counted as plain numbers: a cell per label set is found by a short string key (one Map
 * lookup; prom-client hashes and validates the labels object on every inc/dec), and the metric is brought up to date
 * when prom-client collects it (each scrape or registry read calls the metric's `collect`, which calls `flush`):
 * a counter gets the increase since the last flush, a gauge its value. A cell, once created, is a series of the
 * metric from the next collect on, at 0 if nothing was added.
 */
export class DeferredSeries<L extends string> {
  readonly #labelNames: readonly L[];
  readonly #cells = new Map<string, Cell<L>>();

  constructor(labelNames: readonly L[]) {
    this.#labelNames = labelNames;
  }

  /** The cell of a one-label series. */
  of1(a: string): SeriesCell {
    return this.#cells.get(a) ?? this.#create(a, [a]);
  }

  /** The cell of a two-label series (values in label-name order). */
  of2(a: string, b: string): SeriesCell {
    const key = a + "\u0000" + b;
    return this.#cells.get(key) ?? this.#create(key, [a, b]);
  }

  /** The cell of a three-label series (values in label-name order). */
  of3(a: string, b: string, c: string): SeriesCell {
    const key = a + "\u0000" + b + "\u0000" + c;
    return this.#cells.get(key) ?? this.#create(key, [a, b, c]);
  }

  #create(key: string, values: string[]): Cell<L> {
    if (values.length !== this.#labelNames.length) throw new Error(`expected ${this.#labelNames.length} label values, got ${values.length}`);
    const labels = {} as Record<L, string>;
    this.#labelNames.forEach((name, i) => (labels[name] = values[i]!));
    const cell: Cell<L> = { labels, value: 0, applied: -1 };
    this.#cells.set(key, cell);
    return cell;
  }

  /** Applies the counts to a counter (the increase since the last flush) or a gauge (the value). */
  flush(metric: Counter<L> | Gauge<L>, kind: "counter" | "gauge"): void {
    for (const cell of this.#cells.values()) {
      if (cell.value === cell.applied) continue;
      if (kind === "gauge") (metric as Gauge<L>).set(cell.labels, cell.value);
      else (metric as Counter<L>).inc(cell.labels, cell.value - Math.max(cell.applied, 0));
      cell.applied = cell.value;
    }
  }
}
