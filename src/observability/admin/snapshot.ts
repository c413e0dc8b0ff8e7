import type { Registry } from "prom-client";

/** One series value as prom-client reports it (histograms: `metricName` is the _bucket/_sum/_count series). */
export interface SeriesValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** All metrics of a registry at one instant, by full metric name. */
export interface Snapshot {
  at: number;
  metrics: Map<string, SeriesValue[]>;
}

export async function takeSnapshot(registry: Registry, now: number): Promise<Snapshot> {
  const json = (await registry.getMetricsAsJSON()) as unknown as { name: string; values: SeriesValue[] }[];
  const metrics = new Map<string, SeriesValue[]>();
  // prom-client hands out its live value objects for counters and gauges: copy them, or old samples would move too
  for (const m of json) metrics.set(m.name, m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: v.metricName })));
  return { at: now, metrics };
}

type Filter = (labels: Record<string, string | number>) => boolean;

/** Sum of a counter or gauge (optionally of the series whose labels pass `filter`). */
export function sum(s: Snapshot | undefined, name: string, filter?: Filter): number {
  let total = 0;
  for (const v of s?.metrics.get(name) ?? []) if (!filter || filter(v.labels)) total += v.value;
  return total;
}

/** Values of a counter or gauge grouped by one label (summing the other labels away). */
export function byLabel(s: Snapshot | undefined, name: string, label: string, filter?: Filter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of s?.metrics.get(name) ?? []) {
    if (filter && !filter(v.labels)) continue;
    const key = String(v.labels[label] ?? "");
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

/** Whether the registry has a metric of that name. */
export function has(s: Snapshot | undefined, name: string): boolean {
  return s?.metrics.has(name) ?? false;
}

/** Cumulative bucket counts (le -> count) of a histogram, for series passing `filter`, plus the total count. */
export function buckets(s: Snapshot | undefined, name: string, filter?: Filter): { le: number[]; counts: number[]; count: number } {
  const byLe = new Map<number, number>();
  let count = 0;
  for (const v of s?.metrics.get(name) ?? []) {
    if (filter && !filter(v.labels)) continue;
    if (v.metricName === `${name}_bucket`) {
      const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + v.value);
    } else if (v.metricName === `${name}_count`) count += v.value;
  }
  const le = [...byLe.keys()].sort((a, b) => a - b);
  return { le, counts: le.map((l) => byLe.get(l)!), count };
}

/** Bucket counts of `now` minus those of `before` (same bucket layout), i.e. the observations in between. */
export function bucketDelta(
  now: { le: number[]; counts: number[]; count: number },
  before: { le: number[]; counts: number[]; count: number } | undefined,
): { le: number[]; counts: number[]; count: number } {
  if (!before || before.le.length !== now.le.length) return now;
  return { le: now.le, counts: now.counts.map((c, i) => c - (before.counts[i] ?? 0)), count: now.count - before.count };
}

/**
 * Quantile estimate from cumulative histogram buckets, interpolating linearly inside the bucket (as Prometheus'
 * histogram_quantile does). Returns null when there are no observations; the highest finite bound when the quantile
 * falls in the +Inf bucket.
 */
export function quantile(q: number, h: { le: number[]; counts: number[]; count: number }): number | null {
  const total = h.counts[h.counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < h.le.length; i++) {
    const c = h.counts[i]!;
    if (c >= rank) {
      const upper = h.le[i]!;
      const lower = i === 0 ? 0 : h.le[i - 1]!;
      if (upper === Infinity) return lower;
      const prev = i === 0 ? 0 : h.counts[i - 1]!;
      const inBucket = c - prev;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - prev)) / inBucket;
    }
  }
  return h.le.filter((l) => l !== Infinity).pop() ?? null;
}
