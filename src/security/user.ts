import type { JWTPayload } from "jose";

/** The authenticated identity of a socket, in `socket.data.user` (undefined: anonymous). */
export interface PylonUser {
  /** The token's `sub`. */
  readonly id: string;
  /** Roles from the configured roles claim. */
  readonly roles: readonly string[];
  /** Every verified claim (read-only). */
  readonly claims: Readonly<JWTPayload>;
  /** Expiry (seconds since epoch) of the token currently backing this identity, if any. */
  readonly exp?: number;
}

/** Socket data shape Pylon fills in; applications may add their own fields. */
export interface SecuritySocketData {
  user?: PylonUser;
}

function rolesOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === "string");
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  return [];
}

/** Builds the user from verified claims. */
export function userFromClaims(claims: JWTPayload, rolesClaim: string): PylonUser {
  return Object.freeze({
    id: typeof claims.sub === "string" ? claims.sub : "",
    roles: Object.freeze(rolesOf(claims[rolesClaim])),
    claims: Object.freeze({ ...claims }),
    ...(typeof claims.exp === "number" ? { exp: claims.exp } : {}),
  });
}

/** Reads a claim by dotted path (e.g. "org.id"); undefined when absent. */
export function claimAt(claims: Readonly<JWTPayload>, path: string): unknown {
  let cur: unknown = claims;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
