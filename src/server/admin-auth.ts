import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorBody } from "../protocol/errors.js";
import type { Metrics } from "../observability/metrics.js";
import { sendJson } from "./http-router.js";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Headers of every admin response (the API answers JSON only; nothing of it may be framed or sniffed). */
export const ADMIN_SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

/**
 * The `admin.token` check shared by the operator HTTP APIs: the admin API (/api/stats, /api/cluster) and the cluster
 * APIs (/api/nodes, /api/rooms/...). Requests need `Authorization: Bearer <admin.token>` (compared in constant time
 * on digests); a refusal is a 401, counted (pylon_admin_auth_failures_total) and recorded as a security event.
 * With no token configured `guard()` lets requests through: the admin API does not exist then, and the cluster APIs
 * stay open for the doctor and for dashboards on a private network (docs/operations.md says to set a token when the
 * port is public). The token follows SIGHUP reloads.
 */
export class AdminAuth {
  #digest: Buffer | null;
  readonly #metrics: Metrics;
  readonly #failures: { inc(): void };
  readonly #clientAddress: (req: IncomingMessage) => string;

  constructor(token: string, metrics: Metrics, clientAddress: (req: IncomingMessage) => string) {
    this.#digest = token === "" ? null : digest(token);
    this.#metrics = metrics;
    this.#clientAddress = clientAddress;
    this.#failures = metrics.counter({ name: "admin_auth_failures_total", help: "Admin / cluster API requests refused for a missing or wrong admin.token" });
  }

  setToken(token: string): void {
    this.#digest = token === "" ? null : digest(token);
  }

  /** Whether `authorization` carries the configured token (false when none is configured). */
  #check(authorization: string | undefined): boolean {
    if (this.#digest === null || !authorization) return false;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m !== null && timingSafeEqual(digest(m[1]!), this.#digest);
  }

  /** True when the request may go on; otherwise it has been answered (401), counted and recorded. */
  guard(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#digest === null || this.#check(req.headers.authorization)) return true;
    this.#failures.inc();
    this.#metrics.securityEvents.record({ type: "admin_auth_failed", address: this.#clientAddress(req), detail: `${req.method ?? "GET"} ${(req.url ?? "").split("?")[0]}` });
    sendJson(res, 401, { error: errorBody("unauthorized") }, { "www-authenticate": 'Bearer realm="pylon-admin"', ...ADMIN_SECURITY_HEADERS });
    return false;
  }
}
