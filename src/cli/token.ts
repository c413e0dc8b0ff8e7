import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigningKeys, mintToken, SIGNING_ALGORITHMS, type SigningAlgorithm } from "../security/tokens.js";
import { EXIT, type Io } from "./output.js";

const USAGE = `usage:
  pylon token keygen [--alg RS256|ES256|EdDSA] [--out DIR]
      writes DIR/private.pem (keep secret), DIR/public.pem and DIR/jwks.json (default DIR: .)
  pylon token mint --key private.pem --sub ID [--alg RS256] [--kid KID] [--roles a,b] [--claim k=v ...]
                   [--ttl SECONDS] [--iss ISSUER] [--aud AUDIENCE]
      prints a signed test token (for the demo, tests and pylon load)`;

/** Parses --flag value pairs; repeated flags accumulate. Returns undefined on a dangling flag. */
function parseFlags(argv: readonly string[]): Map<string, string[]> | undefined {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) return undefined;
    const eq = a.indexOf("=");
    const [name, value] = eq > 0 ? [a.slice(2, eq), a.slice(eq + 1)] : [a.slice(2), argv[++i]];
    if (value === undefined) return undefined;
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return flags;
}

function algOf(v: string | undefined): SigningAlgorithm | undefined {
  const alg = v ?? "RS256";
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg) ? (alg as SigningAlgorithm) : undefined;
}

/** `pylon token keygen|mint`: thin wrapper over src/security/tokens.ts. */
export async function tokenCommand(argv: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const flags = parseFlags(rest);
  if (!flags || (sub !== "keygen" && sub !== "mint")) {
    io.err(USAGE);
    return EXIT.usage;
  }
  const one = (k: string): string | undefined => flags.get(k)?.at(-1);
  const alg = algOf(one("alg"));
  if (!alg) {
    io.err(`--alg must be one of ${SIGNING_ALGORITHMS.join(", ")}`);
    return EXIT.usage;
  }
  if (sub === "keygen") {
    const dir = one("out") ?? ".";
    const keys = await generateSigningKeys(alg);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "private.pem"), keys.privatePem, { mode: 0o600 });
    writeFileSync(join(dir, "public.pem"), keys.publicPem);
    writeFileSync(join(dir, "jwks.json"), JSON.stringify(keys.jwks, null, 2) + "\n");
    io.out(JSON.stringify({ alg, kid: keys.kid, privateKey: join(dir, "private.pem"), publicKey: join(dir, "public.pem"), jwks: join(dir, "jwks.json") }, null, 2));
    return EXIT.ok;
  }
  const keyFile = one("key");
  const subject = one("sub");
  if (!keyFile || !subject) {
    io.err("pylon token mint needs --key FILE and --sub ID\n" + USAGE);
    return EXIT.usage;
  }
  const claims: Record<string, string> = {};
  for (const c of flags.get("claim") ?? []) {
    const i = c.indexOf("=");
    if (i <= 0) {
      io.err(`--claim expects NAME=VALUE, got ${c}`);
      return EXIT.usage;
    }
    claims[c.slice(0, i)] = c.slice(i + 1);
  }
  const ttl = Number(one("ttl") ?? 3600);
  if (!Number.isInteger(ttl) || ttl <= 0) {
    io.err("--ttl must be a positive number of seconds");
    return EXIT.usage;
  }
  const roles = one("roles");
  const iss = one("iss");
  const aud = one("aud");
  const kid = one("kid");
  const token = await mintToken({
    privatePem: readFileSync(keyFile, "utf8"),
    alg,
    sub: subject,
    claims,
    ttlSec: ttl,
    ...(roles ? { roles: roles.split(",").filter(Boolean) } : {}),
    ...(iss ? { issuer: iss } : {}),
    ...(aud ? { audience: aud } : {}),
    ...(kid ? { kid } : {}),
  });
  io.out(token);
  return EXIT.ok;
}
