import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { parseConfig } from "../../src/config/index.js";
import { Authorizer, EventValidator, SecurityModule, TokenBucket } from "../../src/security/index.js";
import { parsePattern } from "../../src/security/authz.js";
import { deeperThan } from "../../src/security/schemas.js";
import type { PylonUser } from "../../src/security/user.js";

const user = (id: string, roles: string[] = [], claims: Record<string, unknown> = {}): PylonUser => ({ id, roles, claims: { sub: id, ...claims } });

test("authorization rules: own user room, own tenant, admin everything, first matching rule decides", () => {
  const a = new Authorizer(parseConfig({}).security.authz);
  const alice = user("alice", ["user"], { tenant: "acme" });
  assert.equal(a.check(alice, "room", "user:alice").ok, true);
  assert.equal(a.check(alice, "room", "user:bob").ok, false);
  assert.equal(a.check(alice, "room", "user:alice:extra").ok, false);
  assert.equal(a.check(alice, "stream", "tenant:acme:orders").ok, true);
  assert.equal(a.check(alice, "stream", "tenant:acme").ok, false);
  assert.equal(a.check(alice, "stream", "tenant:globex:orders").ok, false);
  assert.equal(a.check(user("eve", ["user"], { tenant: "acme:x" }), "room", "tenant:acme:x:y").ok, true);
  assert.equal(a.check(user("eve", ["user"], { tenant: ".*" }), "room", "tenant:acme:y").ok, false, "placeholders are literal, not regex");
  assert.equal(a.check(user("nobody", ["user"]), "room", "tenant:acme:orders").ok, false, "missing claim");
  assert.equal(a.check(alice, "room", "admin:panel").ok, false);
  assert.equal(a.check(alice, "room", "lobby").ok, true, "unmatched: allow by default");
  assert.equal(a.check(user("root", ["admin"]), "room", "user:bob").ok, true);
  assert.equal(a.check(alice, "room", "").ok, false);
  const strict = new Authorizer(parseConfig({ security: { authz: { unmatched: "deny", rules: [{ pattern: "public:*" }] } } }).security.authz);
  assert.equal(strict.check(alice, "room", "lobby").ok, false);
  assert.equal(strict.check(alice, "room", "public:news").ok, true);
  const roomsOnly = new Authorizer(parseConfig({ security: { authz: { unmatched: "deny", rules: [{ pattern: "r:*", kinds: ["room"] }] } } }).security.authz);
  assert.equal(roomsOnly.check(alice, "stream", "r:1").ok, false);
});

test("namespace requirements: roles (any of) and claims (equal or one of)", () => {
  const a = new Authorizer(parseConfig({}).security.authz);
  const entry = { requiredRoles: ["ops"], requiredClaims: { plan: ["pro", "team"] } };
  assert.equal(a.checkNamespace(user("a", ["ops"], { plan: "pro" }), entry).ok, true);
  assert.equal(a.checkNamespace(user("a", ["ops"], { plan: "free" }), entry).ok, false);
  assert.equal(a.checkNamespace(user("a", ["user"], { plan: "pro" }), entry).ok, false);
  assert.equal(a.checkNamespace(undefined, entry).ok, false);
  assert.equal(a.checkNamespace(undefined, { requiredRoles: [], requiredClaims: {} }).ok, true);
  assert.equal(a.checkNamespace(user("r", ["admin"]), entry).ok, true);
});

test("patterns: * only at the end, known placeholders only", () => {
  assert.throws(() => parsePattern("a:*:b"), /only allowed at the end/);
  assert.throws(() => parsePattern("user:{name}"), /unknown placeholder/);
  assert.throws(() => parsePattern("user:{sub"), /unbalanced/);
  assert.deepEqual(parsePattern("t:{claims.tenant}:*"), [{ lit: "t:" }, { placeholder: "claims.tenant" }, { lit: ":" }, { rest: true }]);
});

test("token bucket: burst, refill, retry-after", () => {
  const b = new TokenBucket(10, 3, 0);
  assert.equal(b.take(0), 0);
  assert.equal(b.take(0), 0);
  assert.equal(b.take(0), 0);
  assert.equal(b.take(0), 100);
  assert.equal(b.take(100), 0);
  assert.ok(b.take(100, 5) > 0);
  assert.equal(b.full(10_000), true);
});

test("event validator: JSON Schema and zod, unknown events, extra args, depth, path of the failure", () => {
  const v = new EventValidator(parseConfig({}).security.events, {
    "/n": {
      a: { schema: { type: "object", properties: { x: { type: "integer" } }, required: ["x"], additionalProperties: false } },
      z: { schema: z.object({ n: z.number() }).strict(), maxDepth: 2 },
    },
  });
  assert.equal(v.validates("/n"), true);
  assert.equal(v.validates("/other"), false);
  assert.deepEqual(v.check("/n", "a", [{ x: 1 }]), { ok: true, payload: { x: 1 } });
  assert.deepEqual(v.check("/n", "a", [{ x: "1" }]), { ok: false, code: "invalid_payload", extra: { path: "/x" } });
  assert.deepEqual(v.check("/n", "a", [{}]), { ok: false, code: "invalid_payload", extra: { path: "/x" } });
  assert.deepEqual(v.check("/n", "a", [{ x: 1 }, 2]), { ok: false, code: "invalid_payload", extra: { path: "/args/1" } });
  assert.equal(v.check("/n", "a", [{ x: 1 }, () => undefined]).ok, true);
  assert.deepEqual(v.check("/n", "nope", [1]), { ok: false, code: "unknown_event", extra: {} });
  assert.deepEqual(v.check("/n", "z", [{ n: "x" }]), { ok: false, code: "invalid_payload", extra: { path: "/n" } });
  assert.equal(v.check("/n", "z", [{ n: { a: { b: 1 } } }]).ok, false);
  assert.equal(v.check("/other", "anything", [1]).ok, true);
  assert.equal(deeperThan(JSON.parse("[".repeat(40) + "]".repeat(40)), 32), true);
  assert.equal(deeperThan({ a: [1, { b: 2 }] }, 3), false);
  assert.throws(() => new EventValidator(parseConfig({}).security.events, { "/n": { bad: { schema: { type: "nope" } } } }), /\/n.*bad/);
});

test("inconsistent security config fails at construction, naming the option", () => {
  const cfg = (security: Record<string, unknown>) => parseConfig({ security });
  assert.throws(() => new SecurityModule(cfg({ jwt: { mode: "required" } })), /security\.jwt/);
  assert.throws(() => new SecurityModule(cfg({ jwt: { mode: "required", algorithms: ["HS256"], hmacSecret: "short" } })), /hmacSecret/);
  assert.throws(() => new SecurityModule(cfg({ jwt: { mode: "required", publicKey: "not a key" } })), /publicKey/);
  assert.throws(() => new SecurityModule(cfg({ authz: { rules: [{ pattern: "a:*:b" }] } })), /security\.authz\.rules/);
  assert.throws(() => new SecurityModule(cfg({ rateLimit: { enabled: true, store: "redis" } })), /redisUrl/);
  assert.throws(() => parseConfig({ security: { jwt: { algorithms: ["none"] } } }));
  assert.ok(new SecurityModule(cfg({})));
});

test("wire sizes: every event the decoder yields carries its size as received, binary attachments included", async () => {
  const { PylonDecoder, wireSizeOf } = await import("../../src/protocol/parser.js");
  const d = new PylonDecoder();
  const got: { type: number; data: unknown[] }[] = [];
  d.on("decoded", (p) => void got.push(p as { type: number; data: unknown[] }));
  d.add('2/demo,["echo",1]'); // direct path
  d.add('21["join","lobby"]');
  d.add('2 ["odd",1]'); // a shape the direct decoder declines: socket.io-parser's path, sized as well
  d.add("3/demo,5[1]"); // an ack from the client: not an event
  d.add('51-/demo,["bin",{"_placeholder":true,"num":0}]');
  d.add(Buffer.alloc(1000));
  assert.deepEqual(
    got.map((p) => [p.type, wireSizeOf(p.data)]),
    [
      [2, 17],
      [2, 18],
      [2, 11],
      [3, 0],
      [2, 46 + 1000],
    ],
  );
  assert.equal(wireSizeOf(["not", "decoded"]), 0);
  assert.deepEqual(JSON.stringify(got[0]!.data), '["echo",1]', "the size is not part of the payload");
});
