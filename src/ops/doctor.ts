import { affinityCheck } from "./checks/affinity.js";
import { bufferingCheck } from "./checks/buffering.js";
import { corsCheck } from "./checks/cors.js";
import { crossNodeCheck } from "./checks/cross-node.js";
import { handshakeCheck } from "./checks/handshake.js";
import { heartbeatCheck } from "./checks/heartbeat.js";
import { idleCheck } from "./checks/idle.js";
import { payloadCheck } from "./checks/payload.js";
import { tlsCheck } from "./checks/tls.js";
import { upgradeCheck } from "./checks/upgrade.js";
import type { Check, CheckContext, DoctorOptions, Finding } from "./finding.js";

/**
 * The doctor: a list of checks run against a live deployment through whatever proxy is in front of it.
 * Order matters: `handshake` and `websocket-upgrade` establish facts (transports, timings) the later checks use.
 * `idle-timeout` (the slow one, up to --idle-max) runs alongside the others.
 */
export const CHECKS: readonly Check[] = [handshakeCheck, upgradeCheck, bufferingCheck, affinityCheck, idleCheck, heartbeatCheck, corsCheck, tlsCheck, payloadCheck, crossNodeCheck];

export const CHECK_NAMES = CHECKS.map((c) => c.name);

export interface DoctorReport {
  url: string;
  findings: Finding[];
  /** Checks that failed with severity error. */
  errors: number;
  warnings: number;
  passed: number;
  skipped: number;
  durationMs: number;
}

const BACKGROUND = new Set(["idle-timeout"]);
/** Checks that need the first two to have run. */
const FOUNDATION = new Set(["handshake", "websocket-upgrade"]);

export interface RunDoctorOptions extends DoctorOptions {
  /** Only these checks (by name); the foundation checks always run. Empty: all. */
  only?: readonly string[];
  /** Called when a check finishes (progress). */
  onFinding?: (f: Finding) => void;
}

export async function runDoctor(opts: RunDoctorOptions): Promise<DoctorReport> {
  const started = performance.now();
  const ctx: CheckContext = { opts, facts: {} };
  const wanted = (c: Check): boolean => !opts.only || opts.only.length === 0 || opts.only.includes(c.name) || FOUNDATION.has(c.name);
  const selected = CHECKS.filter(wanted);
  const results = new Map<string, Finding>();
  const runOne = async (c: Check): Promise<void> => {
    const t = performance.now();
    let f: Finding;
    try {
      f = { name: c.name, ...(await c.run(ctx)), durationMs: Math.round(performance.now() - t) };
    } catch (err) {
      f = {
        name: c.name,
        ok: false,
        severity: "warn",
        summary: `the check itself failed: ${(err as Error)?.message ?? String(err)}`,
        evidence: [],
        fix: "report this as a doctor bug",
        runbook: "",
        durationMs: Math.round(performance.now() - t),
      };
    }
    results.set(c.name, f);
    opts.onFinding?.(f);
  };
  const foundation = selected.filter((c) => FOUNDATION.has(c.name));
  for (const c of foundation) await runOne(c);
  const background = selected.filter((c) => BACKGROUND.has(c.name)).map(runOne);
  for (const c of selected.filter((c) => !FOUNDATION.has(c.name) && !BACKGROUND.has(c.name))) await runOne(c);
  await Promise.all(background);
  const findings = selected.map((c) => results.get(c.name)!);
  return {
    url: opts.target.base.toString(),
    findings,
    errors: findings.filter((f) => !f.ok && f.severity === "error").length,
    warnings: findings.filter((f) => !f.ok && f.severity === "warn").length,
    passed: findings.filter((f) => f.ok && !f.skipped).length,
    skipped: findings.filter((f) => f.skipped).length,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Text rendering (the CLI's default output). */
export function renderDoctor(r: DoctorReport, verbose = false): string {
  const lines = [`pylon doctor ${r.url}`];
  const width = Math.max(...r.findings.map((f) => f.name.length), 8);
  for (const f of r.findings) {
    const tag = f.skipped ? "SKIP" : f.ok ? "PASS" : f.severity === "error" ? "FAIL" : "WARN";
    lines.push(`${tag}  ${f.name.padEnd(width)}  ${f.summary}`);
    if (!f.ok || verbose) {
      for (const e of f.evidence) lines.push(`        evidence: ${e}`);
      if (f.fix) lines.push(`        fix: ${f.fix}`);
    }
  }
  lines.push(`doctor: ${r.passed} passed, ${r.errors} failed, ${r.warnings} warnings, ${r.skipped} skipped in ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines.join("\n");
}
