import type { Counter } from "prom-client";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";

/** Fields an audit line may carry (whitelisted: never tokens, never payloads, never room names). */
export interface AuditFields {
  code: string;
  address?: string;
  namespace?: string;
  socketId?: string;
  userId?: string;
  event?: string;
  kind?: string;
  reason?: string;
}

/**
 * The security audit trail: one structured warn line per security event (auth failure, forbidden connect/join/
 * subscribe, rate-limit disconnect, token-expiry disconnect) with `audit: true`, and the per-code counters.
 * Per-event refusals (rate limited, invalid payload) are counted only, never logged one by one (floods).
 */
export class SecurityAudit {
  readonly #log: Logger;
  readonly authFailures: Counter<"code">;
  readonly rateLimited: Counter<"kind">;
  readonly forbidden: Counter<"kind">;
  readonly invalidEvents: Counter<"code">;
  readonly disconnects: Counter<"reason">;
  readonly storeErrors: Counter;
  readonly #feed: EventFeed | undefined;

  constructor(logger: Logger, metrics: Metrics) {
    this.#log = logger.child({ audit: true, component: "security" });
    this.#feed = (metrics as { securityEvents?: EventFeed }).securityEvents;
    this.authFailures = metrics.counter({ name: "auth_failures_total", help: "Refused authentications by code", labelNames: ["code"] });
    this.rateLimited = metrics.counter({ name: "rate_limited_total", help: "Requests refused by a rate limit, by kind (handshake, event, bytes)", labelNames: ["kind"] });
    this.forbidden = metrics.counter({ name: "forbidden_total", help: "Authorization denials by kind (namespace, room, stream, refresh)", labelNames: ["kind"] });
    this.invalidEvents = metrics.counter({ name: "invalid_events_total", help: "Events refused before their handler, by code", labelNames: ["code"] });
    this.disconnects = metrics.counter({ name: "security_disconnects_total", help: "Sockets disconnected by the security layer, by reason", labelNames: ["reason"] });
    this.storeErrors = metrics.counter({ name: "rate_limit_store_errors_total", help: "Rate-limit store failures (the limiter failed open)" });
  }

  authFailure(f: AuditFields): void {
    this.authFailures.inc({ code: f.code });
    this.#log.warn(clean(f), "auth failure");
    this.#record(f.code, f);
  }

  denied(kind: string, f: AuditFields): void {
    this.forbidden.inc({ kind });
    this.#log.warn(clean({ ...f, kind }), "forbidden");
    this.#record("forbidden", { ...f, reason: `${kind}${f.reason ? ":" + f.reason : ""}` });
  }

  disconnected(reason: string, f: AuditFields): void {
    this.disconnects.inc({ reason });
    this.#log.warn(clean({ ...f, reason }), "security disconnect");
    this.#record(`disconnect_${reason}`, f);
  }

  /** Feeds the admin dashboard's recent security events, when the metrics carry that ring. */
  #record(type: string, f: AuditFields): void {
    this.#feed?.record({
      type,
      ...(f.namespace ? { namespace: f.namespace } : {}),
      ...(f.address ? { address: f.address } : {}),
      ...(f.userId ? { userId: f.userId } : {}),
      ...(f.reason ? { detail: f.reason } : {}),
    });
  }

  storeError(err: Error): void {
    this.storeErrors.inc();
    this.#log.warn({ err: { message: err.message } }, "rate-limit store error; failing open");
  }
}

/** The dashboard's ring of recent security events (src/observability/security-events.ts), structurally. */
interface EventFeed {
  record(e: { type: string; namespace?: string; address?: string; userId?: string; detail?: string }): void;
}

function clean(f: AuditFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (typeof v === "string" && v !== "") out[k] = v.length > 200 ? v.slice(0, 200) : v;
  return out;
}
