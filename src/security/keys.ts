import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from "jose";
import type { PylonConfig } from "../config/index.js";

type JwtConfig = PylonConfig["security"]["jwt"];

/** Resolves the verification key for a token's protected header (alg, kid). */
export type KeyResolver = JWTVerifyGetKey;

/** A configuration mistake found while building the key resolver (names the option and the fix). */
export class SecurityConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecurityConfigError";
  }
}

function parseKeyText(text: string, source: string): KeyResolver {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (err) {
      throw new SecurityConfigError(`${source}: not valid JSON (${(err as Error).message})`);
    }
    if (json && typeof json === "object" && Array.isArray((json as { keys?: unknown }).keys)) {
      const set = json as JSONWebKeySet;
      for (const k of set.keys) {
        if ("d" in k || "k" in k) throw new SecurityConfigError(`${source}: holds private or symmetric key material; give only public keys`);
      }
      return createLocalJWKSet(set);
    }
    const jwk = json as JWK;
    if ("d" in jwk || "k" in jwk) throw new SecurityConfigError(`${source}: holds private or symmetric key material; give only a public key`);
    return createLocalJWKSet({ keys: [jwk] });
  }
  if (/PRIVATE KEY-----/.test(trimmed)) throw new SecurityConfigError(`${source}: holds a private key; give only the public key (PEM SPKI)`);
  let key: KeyObject;
  try {
    key = createPublicKey(trimmed);
  } catch (err) {
    throw new SecurityConfigError(`${source}: not a PEM public key, JWK or JWK Set (${(err as Error).message})`);
  }
  if (key.type !== "public") throw new SecurityConfigError(`${source}: expected a public key`);
  return async () => key;
}

/**
 * Builds the key resolver from security.jwt: HS256 (only when allowed) uses the shared secret; asymmetric algorithms
 * use the JWKS URL (cached, kid-selected, refetched on unknown kid at most once per cooldown), the key file, or the
 * inline key. The algorithm allowlist is enforced by jwtVerify before any key is used, and a key of the wrong type
 * for the header's alg is refused by jose, so a public key can never serve as an HMAC secret.
 */
export function buildKeyResolver(jwt: JwtConfig, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): KeyResolver {
  const hsAllowed = jwt.algorithms.includes("HS256");
  const asymmetric = jwt.algorithms.some((a) => a !== "HS256");
  if (hsAllowed && Buffer.byteLength(jwt.hmacSecret) < 32) {
    throw new SecurityConfigError("security.jwt.algorithms includes HS256 but security.jwt.hmacSecret is shorter than 32 bytes; set a long random secret or drop HS256");
  }
  if (!hsAllowed && jwt.hmacSecret) {
    throw new SecurityConfigError("security.jwt.hmacSecret is set but HS256 is not in security.jwt.algorithms; add HS256 or remove the secret");
  }
  const sources = [jwt.jwksUrl, jwt.publicKeyFile, jwt.publicKey].filter(Boolean).length;
  if (asymmetric && sources === 0 && jwt.mode !== "off" && !hsAllowed) {
    throw new SecurityConfigError("security.jwt.mode is on but no key is configured; set security.jwt.jwksUrl, publicKeyFile or publicKey");
  }
  if (sources > 1) throw new SecurityConfigError("set only one of security.jwt.jwksUrl, publicKeyFile, publicKey");

  let asym: KeyResolver | undefined;
  if (jwt.jwksUrl) {
    let url: URL;
    try {
      url = new URL(jwt.jwksUrl);
    } catch {
      throw new SecurityConfigError(`security.jwt.jwksUrl is not a URL: ${jwt.jwksUrl}`);
    }
    asym = createRemoteJWKSet(url, {
      cacheMaxAge: jwt.jwksCacheMaxAgeMs,
      cooldownDuration: jwt.jwksCooldownMs,
      timeoutDuration: jwt.jwksTimeoutMs,
    });
  } else if (jwt.publicKeyFile) {
    let text: string;
    try {
      text = readFile(jwt.publicKeyFile);
    } catch (err) {
      throw new SecurityConfigError(`security.jwt.publicKeyFile: cannot read (${(err as Error).message})`);
    }
    asym = parseKeyText(text, "security.jwt.publicKeyFile");
  } else if (jwt.publicKey) {
    asym = parseKeyText(jwt.publicKey, "security.jwt.publicKey");
  }
  const secret = hsAllowed ? new TextEncoder().encode(jwt.hmacSecret) : undefined;

  return async (header, token) => {
    if (header.alg === "HS256") {
      if (!secret) throw new SecurityConfigError("HS256 not allowed");
      return secret;
    }
    if (!asym) throw new SecurityConfigError("no asymmetric key configured");
    return asym(header, token);
  };
}
