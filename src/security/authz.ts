import type { PylonConfig } from "../config/index.js";
import { claimAt, type PylonUser } from "./user.js";

type AuthzConfig = PylonConfig["security"]["authz"];
type NamespaceEntry = PylonConfig["namespaces"][number];

export type TargetKind = "room" | "stream";

/** Outcome of an authorization check: allowed, or refused with the code to send (`forbidden`). */
export type AuthzResult = { ok: true } | { ok: false; code: "forbidden"; reason: string };

const ALLOW: AuthzResult = Object.freeze({ ok: true });
const deny = (reason: string): AuthzResult => ({ ok: false, code: "forbidden", reason });

type Part = { lit: string } | { placeholder: string } | { rest: true };

interface CompiledRule {
  readonly pattern: string;
  readonly parts: readonly Part[];
  readonly shape: RegExp;
  readonly roles: readonly string[];
  readonly kinds: readonly TargetKind[];
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Splits a pattern into literal text, {placeholders} and a trailing `*`. Throws on a malformed pattern. */
export function parsePattern(pattern: string): Part[] {
  const parts: Part[] = [];
  const re = /\{([A-Za-z0-9_.]+)\}|\*/g;
  let last = 0;
  for (let m = re.exec(pattern); m; m = re.exec(pattern)) {
    if (m.index > last) parts.push({ lit: pattern.slice(last, m.index) });
    if (m[0] === "*") {
      if (m.index !== pattern.length - 1) throw new Error(`pattern ${pattern}: * is only allowed at the end`);
      parts.push({ rest: true });
    } else {
      const name = m[1]!;
      if (name !== "sub" && name !== "id" && !name.startsWith("claims.")) {
        throw new Error(`pattern ${pattern}: unknown placeholder {${name}} (use {sub} or {claims.NAME})`);
      }
      parts.push({ placeholder: name });
    }
    last = m.index + m[0].length;
  }
  if (last < pattern.length) parts.push({ lit: pattern.slice(last) });
  if (/[{}]/.test(parts.map((p) => ("lit" in p ? p.lit : "")).join(""))) throw new Error(`pattern ${pattern}: unbalanced braces`);
  return parts;
}

function compileRule(rule: AuthzConfig["rules"][number]): CompiledRule {
  const parts = parsePattern(rule.pattern);
  const shape = new RegExp(
    "^" + parts.map((p) => ("lit" in p ? escapeRe(p.lit) : "placeholder" in p ? "(?:.+?)" : "(?:.*)")).join("") + "$",
    "s",
  );
  return { pattern: rule.pattern, parts, shape, roles: rule.roles, kinds: rule.kinds };
}

function placeholderValue(user: PylonUser, name: string): string | undefined {
  if (name === "sub" || name === "id") return user.id || undefined;
  const v = claimAt(user.claims, name.slice("claims.".length));
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

/** Whether the user fills the rule's placeholders with their own values to produce exactly `target`. */
function fills(rule: CompiledRule, user: PylonUser, target: string): boolean {
  let src = "^";
  for (const p of rule.parts) {
    if ("lit" in p) src += escapeRe(p.lit);
    else if ("rest" in p) src += ".*";
    else {
      const v = placeholderValue(user, p.placeholder);
      if (v === undefined) return false;
      src += escapeRe(v);
    }
  }
  return new RegExp(src + "$", "s").test(target);
}

const hasAny = (have: readonly string[], want: readonly string[]): boolean => want.some((r) => have.includes(r));

/**
 * Room, stream and namespace authorization from security.authz and namespaces[]: admin roles may do everything;
 * otherwise the first rule whose pattern shape matches the name decides (placeholders filled with the user's own
 * values, one of the rule's roles held); names no rule matches follow `unmatched`.
 * Pure: it counts and logs nothing (callers do). Anonymous users (security.jwt.mode off) are not checked here.
 */
export class Authorizer {
  readonly #rules: CompiledRule[];
  readonly #admin: readonly string[];
  readonly #unmatched: "allow" | "deny";

  constructor(authz: AuthzConfig) {
    this.#rules = authz.rules.map((r) => {
      try {
        return compileRule(r);
      } catch (err) {
        throw new Error(`security.authz.rules: ${(err as Error).message}`);
      }
    });
    this.#admin = authz.adminRoles;
    this.#unmatched = authz.unmatched;
  }

  isAdmin(user: PylonUser): boolean {
    return hasAny(user.roles, this.#admin);
  }

  /** May `user` join room / subscribe to stream `target`? */
  check(user: PylonUser, kind: TargetKind, target: string): AuthzResult {
    if (typeof target !== "string" || target.length === 0 || target.length > 512) return deny("bad_name");
    if (this.isAdmin(user)) return ALLOW;
    for (const rule of this.#rules) {
      if (!rule.kinds.includes(kind) || !rule.shape.test(target)) continue;
      if (rule.roles.length > 0 && !hasAny(user.roles, rule.roles)) continue;
      if (!fills(rule, user, target)) return deny(`rule:${rule.pattern}`);
      return ALLOW;
    }
    // A shape-matching rule whose roles the user lacks does not grant; if any rule matched by shape, deny.
    if (this.#rules.some((r) => r.kinds.includes(kind) && r.shape.test(target))) return deny("role");
    return this.#unmatched === "allow" ? ALLOW : deny("unmatched");
  }

  /** May `user` connect to the namespace (requiredRoles: one of them; requiredClaims: each equal / one of)? */
  checkNamespace(user: PylonUser | undefined, entry: Pick<NamespaceEntry, "requiredRoles" | "requiredClaims"> | undefined): AuthzResult {
    if (!entry) return ALLOW;
    const needsSomething = entry.requiredRoles.length > 0 || Object.keys(entry.requiredClaims).length > 0;
    if (!needsSomething) return ALLOW;
    if (!user) return deny("anonymous");
    if (this.isAdmin(user)) return ALLOW;
    if (entry.requiredRoles.length > 0 && !hasAny(user.roles, entry.requiredRoles)) return deny("role");
    for (const [name, want] of Object.entries(entry.requiredClaims)) {
      const have = claimAt(user.claims, name);
      const wanted = Array.isArray(want) ? want : [want];
      if (typeof have !== "string" || !wanted.includes(have)) return deny(`claim:${name}`);
    }
    return ALLOW;
  }
}
