import type { PylonContext } from "../server/module.js";
import { SecurityAudit } from "./audit.js";
import { Authorizer, type AuthzResult } from "./authz.js";
import type { PylonUser } from "./user.js";

/** Authorizes one subscription; `user` is `socket.data.user` (undefined when anonymous). */
export type AuthorizeSubscribe = (user: PylonUser | undefined, stream: string, where?: { namespace?: string; socketId?: string }) => AuthzResult;

/** The hooks other modules use to apply the same rules as the security module (counted and audited). */
export interface SecurityHooks {
  /** May this user subscribe to this stream? Answer `{ error: { code: 'forbidden' } }` when not ok. */
  authorizeSubscribe: AuthorizeSubscribe;
  /** May this user join this room (server-side join helpers requested by clients)? */
  authorizeRoom: AuthorizeSubscribe;
}

const ANONYMOUS: PylonUser = Object.freeze({ id: "", roles: Object.freeze([]), claims: Object.freeze({}) });

/**
 * Builds the hooks from a module context: the rules of security.authz, denials counted in
 * pylon_forbidden_total{kind} and written to the audit log. With security.jwt.mode off everything is allowed.
 */
export function createSecurityHooks(ctx: Pick<PylonContext, "config" | "logger" | "metrics">): SecurityHooks {
  const enabled = ctx.config.security.jwt.mode !== "off";
  const authorizer = new Authorizer(ctx.config.security.authz);
  const audit = new SecurityAudit(ctx.logger, ctx.metrics);
  const make =
    (kind: "room" | "stream"): AuthorizeSubscribe =>
    (user, name, where = {}) => {
      if (!enabled) return { ok: true };
      const verdict = authorizer.check(user ?? ANONYMOUS, kind, name);
      if (!verdict.ok) audit.denied(kind, { code: "forbidden", ...where, ...(user?.id ? { userId: user.id } : {}), reason: verdict.reason });
      return verdict;
    };
  return { authorizeSubscribe: make("stream"), authorizeRoom: make("room") };
}
