import type { OpenPacket, Target } from "./eio.js";

/**
 * error: this breaks clients (doctor exits 1). warn: a risk worth fixing. info: a pass, a skip or a fact.
 */
export type Severity = "error" | "warn" | "info";

/** One doctor finding: what was checked, whether it passed, the evidence, and the fix (linking the runbook). */
export interface Finding {
  /** Stable check name (e.g. "websocket-upgrade"). */
  name: string;
  ok: boolean;
  severity: Severity;
  /** One line: what was found. */
  summary: string;
  /** What was measured or seen, one fact per line. */
  evidence: string[];
  /** What to change (empty when ok). */
  fix: string;
  /** The runbook section, e.g. "docs/operations.md#stuck-on-polling". */
  runbook: string;
  /** The check could not run (missing prerequisite); ok stays true. */
  skipped?: boolean;
  durationMs: number;
  /** Machine-readable measurements for --json (seconds, counts ...). */
  data?: Record<string, unknown>;
}

/** Runbook sections in docs/operations.md (## Runbook). A unit test checks each heading exists. */
export const RUNBOOK = {
  disconnects: "disconnects-every-60-120-s",
  partialBroadcasts: "only-some-clients-get-broadcasts",
  memory: "memory-growth",
  upgradeLatency: "latency-spikes-during-upgrades",
  stuckOnPolling: "stuck-on-polling",
  versionMismatch: "version-mismatch",
  fanoutCpu: "cpu-spikes-at-fan-out",
  handshake: "handshake-fails",
  affinity: "session-id-unknown-no-affinity",
  buffering: "messages-arrive-in-bursts-proxy-buffering",
  heartbeat: "ping-timeout-on-slow-networks",
  cors: "browsers-refused-cors-and-origin",
  tls: "tls-certificate-problems",
  payload: "large-messages-refused",
} as const;
export type RunbookSection = keyof typeof RUNBOOK;

export const RUNBOOK_DOC = "docs/operations.md";

export function runbookLink(section: RunbookSection): string {
  return `${RUNBOOK_DOC}#${RUNBOOK[section]}`;
}

/** Options shared by every check. */
export interface DoctorOptions {
  target: Target;
  /** Longest time the idle check holds a quiet connection (ms). */
  idleMaxMs: number;
  /** Timeout of one request (ms). */
  timeoutMs: number;
  /** Sequential polls in the affinity check. */
  affinityPolls: number;
  /** RTT samples in the heartbeat check. */
  rttSamples: number;
  /** The application's own origin (CORS check expects it to be accepted). */
  origin?: string;
  /** Direct node URLs for the cross-node check. */
  nodes: URL[];
  /** Largest payload the payload check sends (bytes). */
  payloadCapBytes: number;
  /** Clients per node in the cross-node check. */
  clientsPerNode: number;
  /** Socket.IO namespace with the demo contract (join/say) for the cross-node check. */
  demoNamespace: string;
  /** Token for the Socket.IO handshake (auth.token) where a namespace requires one. Never printed. */
  token?: string;
  /** The nodes' admin.token (Bearer), for /api/nodes when the nodes protect it. Never printed. */
  adminToken?: string;
  /** Days before certificate expiry that count as a warning. */
  certWarnDays: number;
}

/** Facts established by earlier checks and reused by later ones. */
export interface DoctorFacts {
  open?: OpenPacket;
  /** Polling handshakes work. */
  polling?: boolean;
  /** A WebSocket reaches the engine through the proxy. */
  websocket?: boolean;
  /** The server answers Pylon's doctor probe (so it is Pylon). */
  probe?: boolean;
}

export interface CheckContext {
  opts: DoctorOptions;
  facts: DoctorFacts;
}

export interface Check {
  name: string;
  run(ctx: CheckContext): Promise<Omit<Finding, "name" | "durationMs">>;
}

/** Helpers to build results. */
export function pass(summary: string, evidence: string[], runbook: RunbookSection, data?: Record<string, unknown>): Omit<Finding, "name" | "durationMs"> {
  return { ok: true, severity: "info", summary, evidence, fix: "", runbook: runbookLink(runbook), ...(data ? { data } : {}) };
}

export function fail(
  severity: "error" | "warn",
  summary: string,
  evidence: string[],
  fix: string,
  runbook: RunbookSection,
  data?: Record<string, unknown>,
): Omit<Finding, "name" | "durationMs"> {
  return { ok: false, severity, summary, evidence, fix: `${fix} (runbook: ${runbookLink(runbook)})`, runbook: runbookLink(runbook), ...(data ? { data } : {}) };
}

export function skip(summary: string, evidence: string[], runbook: RunbookSection): Omit<Finding, "name" | "durationMs"> {
  return { ok: true, severity: "info", skipped: true, summary, evidence, fix: "", runbook: runbookLink(runbook) };
}
