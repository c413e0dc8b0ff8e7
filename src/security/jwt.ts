import { errors as joseErrors, jwtVerify, type JWTVerifyOptions } from "jose";
import type { PylonConfig } from "../config/index.js";
import { PylonError } from "../protocol/errors.js";
import { buildKeyResolver, type KeyResolver } from "./keys.js";
import { userFromClaims, type PylonUser } from "./user.js";

type JwtConfig = PylonConfig["security"]["jwt"];

/** Why a token was refused: the wire code plus an internal reason for the audit log (never the token). */
export interface TokenFailure {
  code: "token_expired" | "token_invalid" | "internal_error";
  reason: string;
}

const MAX_TOKEN_LENGTH = 16_384;

/** Maps a jose (or other) error to a stable code; the reason is jose's error code, safe to log. */
export function classifyTokenError(err: unknown): TokenFailure {
  if (err instanceof joseErrors.JWTExpired) return { code: "token_expired", reason: err.code };
  if (err instanceof joseErrors.JWTClaimValidationFailed) return { code: "token_invalid", reason: `${err.code}:${err.claim}` };
  if (err instanceof joseErrors.JWKSTimeout) return { code: "internal_error", reason: err.code };
  if (err instanceof joseErrors.JOSEError) return { code: "token_invalid", reason: err.code };
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) return { code: "internal_error", reason: "ERR_JWKS_FETCH" };
  return { code: "token_invalid", reason: (err as Error)?.name ?? "unknown" };
}

/** Verifies tokens with jose against security.jwt (algorithm allowlist, keys, exp/nbf/iss/aud, clock tolerance). */
export class TokenVerifier {
  readonly #keys: KeyResolver;
  readonly #options: JWTVerifyOptions;
  readonly #rolesClaim: string;

  constructor(jwt: JwtConfig, keys: KeyResolver = buildKeyResolver(jwt)) {
    this.#keys = keys;
    this.#rolesClaim = jwt.rolesClaim;
    this.#options = {
      algorithms: [...jwt.algorithms],
      clockTolerance: jwt.clockToleranceSec,
      ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
      ...(jwt.audience ? { audience: jwt.audience } : {}),
      requiredClaims: jwt.requireExp ? ["exp", "sub"] : ["sub"],
    };
  }

  /** Resolves with the user or rejects with a PylonError (token_expired | token_invalid | internal_error) whose cause carries the reason. */
  async verify(token: string): Promise<PylonUser> {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new PylonError("token_invalid", {}, { cause: { reason: "token_too_long" } });
    }
    try {
      const { payload } = await jwtVerify(token, this.#keys, this.#options);
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw new PylonError("token_invalid", {}, { cause: { reason: "missing_sub" } });
      }
      return userFromClaims(payload, this.#rolesClaim);
    } catch (err) {
      if (err instanceof PylonError) throw err;
      const f = classifyTokenError(err);
      throw new PylonError(f.code, {}, { cause: { reason: f.reason } });
    }
  }
}

/** The reason recorded in a verification PylonError's cause (for the audit log). */
export function failureReason(err: unknown): string {
  const cause = (err as { cause?: { reason?: unknown } })?.cause;
  return typeof cause?.reason === "string" ? cause.reason : "unknown";
}
