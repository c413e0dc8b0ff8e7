import { parseDuration } from "./duration.js";

/**
 * Service-level objectives of a canary run. Text form: `p99=250ms,completeness=100%,upgrade=99%` (the flag), or an
 * object with the same keys (a JSON/YAML file). Latency keys are upper bounds; ratio keys are lower bounds; `drops`
 * is an upper bound on unexpected disconnects.
 */
export const LATENCY_KEYS = ["p50", "p90", "p99", "p999", "max"] as const;
export const RATIO_KEYS = ["completeness", "connect", "upgrade"] as const;
export type LatencyKey = (typeof LATENCY_KEYS)[number];
export type RatioKey = (typeof RATIO_KEYS)[number];

export interface Slo {
  /** Milliseconds. */
  latency: Partial<Record<LatencyKey, number>>;
  /** 0..1 */
  ratio: Partial<Record<RatioKey, number>>;
  drops?: number;
}

/** What the canary measured, in the units of the SLO. */
export interface SloMeasures {
  latency: Record<LatencyKey, number>;
  ratio: Record<RatioKey, number | null>;
  drops: number;
}

export interface SloResult {
  name: string;
  /** Human form, e.g. "<= 250 ms" or ">= 99%". */
  target: string;
  actual: string;
  ok: boolean;
}

export class SloError extends Error {}

/** The SLO used when none is given: every delivery, connection and upgrade, p99 under 500 ms. */
export const DEFAULT_SLO = "p99=500ms,completeness=100%,connect=100%,upgrade=100%";

const ALIASES: Record<string, string> = { connection: "connect", connections: "connect", p99_9: "p999", "p99.9": "p999" };

/** Parses `k=v,k=v` text. Throws SloError naming the bad part. */
export function parseSlo(text: string): Slo {
  const obj: Record<string, string> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new SloError(`SLO "${part}": expected key=value (e.g. p99=250ms)`);
    obj[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return sloFromObject(obj);
}

/** Builds an SLO from an object (file contents). Values: "250ms" / 250 (ms) for latency, "99%" / 0.99 for ratios. */
export function sloFromObject(obj: Record<string, unknown>): Slo {
  const slo: Slo = { latency: {}, ratio: {} };
  for (const [rawKey, value] of Object.entries(obj)) {
    const key = ALIASES[rawKey] ?? rawKey;
    const text = String(value);
    if ((LATENCY_KEYS as readonly string[]).includes(key)) {
      const ms = typeof value === "number" ? value : parseDuration(text, "ms");
      if (ms === undefined || ms < 0) throw new SloError(`SLO ${rawKey}: "${text}" is not a duration (e.g. 250ms, 1s)`);
      slo.latency[key as LatencyKey] = ms;
    } else if ((RATIO_KEYS as readonly string[]).includes(key)) {
      const r = parseRatio(value);
      if (r === undefined) throw new SloError(`SLO ${rawKey}: "${text}" is not a percentage (e.g. 99%, 100%, 0.99)`);
      slo.ratio[key as RatioKey] = r;
    } else if (key === "drops") {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0) throw new SloError(`SLO drops: "${text}" is not a count`);
      slo.drops = n;
    } else {
      throw new SloError(`unknown SLO "${rawKey}" (known: ${[...LATENCY_KEYS, ...RATIO_KEYS, "drops"].join(", ")})`);
    }
  }
  return slo;
}

function parseRatio(value: unknown): number | undefined {
  if (typeof value === "number") return value >= 0 && value <= 1 ? value : value > 1 && value <= 100 ? value / 100 : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(String(value));
  if (!m) return undefined;
  const n = Number(m[1]);
  const r = m[2] ? n / 100 : n <= 1 ? n : n / 100;
  return r >= 0 && r <= 1 ? r : undefined;
}

/** Compares measures with the SLO; one result per objective, in a stable order. */
export function evaluateSlo(slo: Slo, m: SloMeasures): SloResult[] {
  const out: SloResult[] = [];
  for (const key of LATENCY_KEYS) {
    const target = slo.latency[key];
    if (target === undefined) continue;
    const actual = m.latency[key];
    out.push({ name: key, target: `<= ${fmtMs(target)}`, actual: fmtMs(actual), ok: actual <= target });
  }
  for (const key of RATIO_KEYS) {
    const target = slo.ratio[key];
    if (target === undefined) continue;
    const actual = m.ratio[key];
    // an objective with nothing to measure (e.g. upgrade when no client upgrades) is met vacuously
    out.push({ name: key, target: `>= ${fmtPct(target)}`, actual: actual === null ? "n/a" : fmtPct(actual), ok: actual === null || actual >= target - 1e-12 });
  }
  if (slo.drops !== undefined) out.push({ name: "drops", target: `<= ${slo.drops}`, actual: String(m.drops), ok: m.drops <= slo.drops });
  return out;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a (nothing measured)";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms * 100) / 100} ms`;
}

function fmtPct(r: number): string {
  return `${Math.round(r * 10000) / 100}%`;
}
