import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, exportJWK, importPKCS8 } from "jose";
import { parseConfig } from "../../src/config/index.js";
import { TokenVerifier } from "../../src/security/jwt.js";
import { PylonError } from "../../src/protocol/errors.js";
import { generateSigningKeys, mintToken } from "../../src/security/tokens.js";

// TokenVerifier against real keys: key files with kid selection, HS256 only when configured, private keys refused.
const jwt = (j: Record<string, unknown>) => parseConfig({ security: { jwt: { mode: "required", ...j } } }).security.jwt;
const code = async (p: Promise<unknown>): Promise<string> => p.then(() => "ok", (e: unknown) => (e instanceof PylonError ? e.code : String(e)));

test("a JWK Set file selects the key by kid", async () => {
  const [a, b] = await Promise.all([generateSigningKeys("ES256"), generateSigningKeys("EdDSA")]);
  const dir = mkdtempSync(join(tmpdir(), "pylon-jwks-"));
  const file = join(dir, "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [a.publicJwk, b.publicJwk] }));
  const v = new TokenVerifier(jwt({ publicKeyFile: file }));
  const ta = await mintToken({ privatePem: a.privatePem, alg: "ES256", kid: a.kid, sub: "a", roles: ["x"] });
  const tb = await mintToken({ privatePem: b.privatePem, alg: "EdDSA", kid: b.kid, sub: "b" });
  assert.deepEqual((await v.verify(ta)).roles, ["x"]);
  assert.equal((await v.verify(tb)).id, "b");
  const wrongKid = await mintToken({ privatePem: a.privatePem, alg: "ES256", kid: b.kid, sub: "a" });
  assert.equal(await code(v.verify(wrongKid)), "token_invalid");
});

test("HS256 only when listed with a long secret; asymmetric tokens then need a key too", async () => {
  const secret = "s".repeat(40);
  const v = new TokenVerifier(jwt({ algorithms: ["HS256"], hmacSecret: secret }));
  const good = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("h").setExpirationTime("10m").sign(new TextEncoder().encode(secret));
  assert.equal((await v.verify(good)).id, "h");
  const bad = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("h").setExpirationTime("10m").sign(new TextEncoder().encode("t".repeat(40)));
  assert.equal(await code(v.verify(bad)), "token_invalid");
  const rs = await generateSigningKeys("RS256");
  assert.equal(await code(v.verify(await mintToken({ privatePem: rs.privatePem, sub: "r" }))), "token_invalid", "RS256 not in the allowlist");
  // default allowlist: an HS256 token is refused before any key is looked at
  const asym = new TokenVerifier(jwt({ publicKey: rs.publicPem }));
  assert.equal(await code(asym.verify(good)), "token_invalid");
});

test("exp and sub are required; roles may be a space-separated string", async () => {
  const k = await generateSigningKeys("RS256");
  const v = new TokenVerifier(jwt({ publicKey: k.publicPem, rolesClaim: "scope" }));
  const key = await importPKCS8(k.privatePem, "RS256");
  const noExp = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setSubject("x").sign(key);
  assert.equal(await code(v.verify(noExp)), "token_invalid");
  const noSub = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setExpirationTime("5m").sign(key);
  assert.equal(await code(v.verify(noSub)), "token_invalid");
  const scoped = await new SignJWT({ scope: "read write" }).setProtectedHeader({ alg: "RS256" }).setSubject("x").setExpirationTime("5m").sign(key);
  assert.deepEqual((await v.verify(scoped)).roles, ["read", "write"]);
});

test("private key material in a key source is refused at construction", async () => {
  const k = await generateSigningKeys("ES256");
  const priv = await exportJWK(await importPKCS8(k.privatePem, "ES256", { extractable: true }));
  assert.throws(() => new TokenVerifier(jwt({ publicKey: JSON.stringify(priv) })), /private/);
  assert.throws(() => new TokenVerifier(jwt({ publicKey: k.privatePem })), /private key/);
});
