import { randomBytes } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, SignJWT, type JWK } from "jose";

export type SigningAlgorithm = "RS256" | "ES256" | "EdDSA";
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ["RS256", "ES256", "EdDSA"];

/** A freshly generated key pair: PEM texts, the public JWK (with kid and alg) and a JWKS holding it. */
export interface GeneratedKeys {
  alg: SigningAlgorithm;
  kid: string;
  privatePem: string;
  publicPem: string;
  publicJwk: JWK;
  jwks: { keys: JWK[] };
}

/** Generates a signing key pair (kid = the JWK thumbprint). */
export async function generateSigningKeys(alg: SigningAlgorithm = "RS256"): Promise<GeneratedKeys> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const jwk = await exportJWK(publicKey);
  const kid = (await calculateJwkThumbprint(jwk)).slice(0, 16);
  const publicJwk: JWK = { ...jwk, kid, alg, use: "sig" };
  return { alg, kid, privatePem: await exportPKCS8(privateKey), publicPem: await exportSPKI(publicKey), publicJwk, jwks: { keys: [publicJwk] } };
}

export interface MintOptions {
  /** PKCS#8 PEM private key (from generateSigningKeys or `pylon token keygen`). */
  privatePem: string;
  alg?: SigningAlgorithm;
  kid?: string;
  sub: string;
  roles?: string[];
  /** Extra claims (e.g. { tenant: "acme" }). */
  claims?: Record<string, unknown>;
  issuer?: string;
  audience?: string;
  /** Lifetime in seconds (default 3600). */
  ttlSec?: number;
  /** Not-before offset from now in seconds (default: none). */
  nbfInSec?: number;
  /** Issued-at override, seconds since epoch (tests of expiry). */
  now?: number;
}

/** Signs a token for tests, the demo and `pylon load`. */
export async function mintToken(o: MintOptions): Promise<string> {
  const alg = o.alg ?? "RS256";
  const key = await importPKCS8(o.privatePem, alg);
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(o.claims ?? {}), ...(o.roles ? { roles: o.roles } : {}) })
    .setProtectedHeader({ alg, typ: "JWT", ...(o.kid ? { kid: o.kid } : {}) })
    .setSubject(o.sub)
    .setIssuedAt(now)
    .setJti(randomBytes(8).toString("hex"))
    .setExpirationTime(now + (o.ttlSec ?? 3600));
  if (o.issuer) jwt.setIssuer(o.issuer);
  if (o.audience) jwt.setAudience(o.audience);
  if (o.nbfInSec !== undefined) jwt.setNotBefore(now + o.nbfInSec);
  return jwt.sign(key);
}
