import { test, before } from "node:test";
import assert from "node:assert/strict";
import { connectClient, emitWithAck, metricSum, scrapeMetrics, useCleanup, type ClientSocket } from "../helpers/index.js";
import { attackTally } from "../helpers/security.js";
import { startSecurePylon } from "../helpers/secure-pylon.js";
import { createSecurityHooks } from "../../src/security/index.js";
import { generateSigningKeys, mintToken, type GeneratedKeys } from "../../src/security/tokens.js";
import type { PylonUser } from "../../src/security/user.js";

// Authorization attacks: other users' rooms, other tenants' streams, admin namespaces, by every path a client has
// (the demo's join event, a server-side join helper, say without joining), against a real socket.io server.
useCleanup();
const tally = attackTally("authz");
let keys: GeneratedKeys;
let url: string;

type ErrorAck = { error?: { code: string } };

async function tokenFor(sub: string, extra: { roles?: string[]; claims?: Record<string, unknown> } = {}): Promise<string> {
  return mintToken({ privatePem: keys.privatePem, alg: keys.alg, kid: keys.kid, sub, roles: extra.roles ?? ["user"], claims: extra.claims ?? {}, ttlSec: 600 });
}

async function as(sub: string, nsp: string, extra: Parameters<typeof tokenFor>[1] = {}): Promise<ClientSocket> {
  return connectClient(url + nsp, { transports: ["websocket"], auth: { token: await tokenFor(sub, extra) } });
}

before(async () => {
  keys = await generateSigningKeys("ES256");
  const started = await startSecurePylon(
    {
      security: { jwt: { mode: "required", publicKey: keys.publicPem } },
      namespaces: [
        { name: "/" },
        { name: "/admin", requiredRoles: ["admin"] },
        { name: "/pro", requiredClaims: { plan: ["pro", "team"] } },
      ],
    },
    [
      {
        name: "/t",
        // a server-side join helper: the handler joins whatever room the client names, after asking the hook
        events: { helperJoin: { schema: { type: "string", maxLength: 128 } }, whoami: { schema: {} } },
        onConnection(socket, ctx) {
          const hooks = createSecurityHooks(ctx);
          socket.on("helperJoin", (room: string, ack: (r: unknown) => void) => {
            const verdict = hooks.authorizeRoom(socket.data.user as PylonUser, room, { namespace: "/t", socketId: socket.id });
            if (!verdict.ok) return ack({ error: { code: verdict.code } });
            void socket.join(room);
            ack({ ok: true });
          });
          socket.on("whoami", (_: unknown, ack: (r: unknown) => void) => ack(socket.data.user));
        },
      },
    ],
  );
  url = started.url;
});

test("claims land in socket.data.user", async () => {
  const s = await as("alice", "/t", { roles: ["user", "editor"], claims: { tenant: "acme" } });
  const user = await emitWithAck<{ id: string; roles: string[]; claims: { tenant: string } }>(s, "whoami", {});
  assert.equal(user.id, "alice");
  assert.deepEqual(user.roles, ["user", "editor"]);
  assert.equal(user.claims.tenant, "acme");
  s.disconnect();
});

test("a user cannot join another user's room, another tenant's room or an admin room (demo join)", async () => {
  const alice = await as("alice", "/demo", { claims: { tenant: "acme" } });
  for (const room of ["user:bob", "user:alice:x", "tenant:globex:orders", "tenant:globex", "admin:panel"]) {
    const r = await emitWithAck<ErrorAck>(alice, "join", room);
    tally.attempt(`demo join ${room}`, r.error?.code === "forbidden");
    assert.equal(r.error?.code, "forbidden", `join ${room}`);
  }
  const wildcard = await emitWithAck<ErrorAck>(alice, "join", "user:*");
  assert.equal(tally.attempt("demo join user:*", wildcard.error !== undefined), true);
  for (const room of ["user:alice", "tenant:acme:orders", "lobby"]) {
    assert.deepEqual(await emitWithAck(alice, "join", room), { ok: true }, `join ${room}`);
  }
  alice.disconnect();
});

test("server-side join helpers go through the same rules", async () => {
  const alice = await as("alice", "/t", { claims: { tenant: "acme" } });
  for (const room of ["user:bob", "tenant:globex:x", "admin:x"]) {
    const r = await emitWithAck<ErrorAck>(alice, "helperJoin", room);
    tally.attempt(`helper join ${room}`, r.error?.code === "forbidden");
    assert.equal(r.error?.code, "forbidden");
  }
  assert.deepEqual(await emitWithAck(alice, "helperJoin", "user:alice"), { ok: true });
  alice.disconnect();
});

test("say into a room one has not joined reaches nobody", async () => {
  const bob = await as("bob", "/demo");
  const alice = await as("alice", "/demo");
  assert.deepEqual(await emitWithAck(bob, "join", "user:bob"), { ok: true });
  const seen: string[] = [];
  bob.on("message", (m: { text: string }) => seen.push(m.text));
  alice.emit("say", { room: "user:bob", text: "injected" });
  await emitWithAck(alice, "echo", 1); // alice's say was processed before this ack
  bob.emit("say", { room: "user:bob", text: "own" });
  await new Promise<void>((resolve) => bob.once("message", () => resolve()));
  tally.attempt("say into another user's room", !seen.includes("injected"));
  assert.deepEqual(seen, ["own"]);
  bob.disconnect();
  alice.disconnect();
});

test("admin and claim-gated namespaces refuse other users; admins may do everything", async () => {
  const cases: [string, { roles?: string[]; claims?: Record<string, unknown> }][] = [
    ["/admin", {}],
    ["/admin", { roles: ["user", "Admin"] }],
    ["/pro", { claims: { plan: "free" } }],
    ["/pro", {}],
  ];
  for (const [nsp, extra] of cases) {
    const err = await as("alice", nsp, extra).then(
      (s) => {
        s.disconnect();
        return undefined;
      },
      (e: Error & { data?: { code: string } }) => e,
    );
    tally.attempt(`connect ${nsp} ${JSON.stringify(extra)}`, err?.data?.code === "forbidden");
    assert.equal(err?.data?.code, "forbidden", nsp);
  }
  const pro = await as("carol", "/pro", { claims: { plan: "team" } });
  pro.disconnect();
  const root = await as("root", "/admin", { roles: ["admin"] });
  root.disconnect();
  const rootDemo = await as("root", "/demo", { roles: ["admin"] });
  assert.deepEqual(await emitWithAck(rootDemo, "join", "user:bob"), { ok: true });
  assert.deepEqual(await emitWithAck(rootDemo, "join", "tenant:globex:orders"), { ok: true });
  rootDemo.disconnect();
});

test("authorizeSubscribe: streams follow the rules; denials are counted", async () => {
  const started = { config: (await import("../../src/config/index.js")).parseConfig({ security: { jwt: { mode: "required", publicKey: keys.publicPem } } }) };
  const { Metrics } = await import("../../src/observability/metrics.js");
  const { createLogger } = await import("../../src/observability/logger.js");
  const metrics = new Metrics(started.config.metrics);
  const hooks = createSecurityHooks({ config: started.config, metrics, logger: createLogger({ level: "silent", pretty: "never" }, { isTTY: false }) });
  const user = (sub: string, roles: string[], claims: Record<string, unknown> = {}): PylonUser => ({ id: sub, roles, claims: { sub, ...claims } });
  const alice = user("alice", ["user"], { tenant: "acme" });
  assert.equal(hooks.authorizeSubscribe(alice, "user:alice").ok, true);
  assert.equal(hooks.authorizeSubscribe(alice, "tenant:acme:feed").ok, true);
  for (const stream of ["user:bob", "tenant:globex:feed", "admin:audit"]) {
    assert.equal(tally.attempt(`subscribe ${stream}`, !hooks.authorizeSubscribe(alice, stream).ok), true, stream);
  }
  assert.equal(hooks.authorizeSubscribe(undefined, "user:alice").ok, false);
  assert.equal(hooks.authorizeSubscribe(user("root", ["admin"]), "user:bob").ok, true);
  const text = (await metrics.render()).body;
  assert.match(text, /pylon_forbidden_total\{kind="stream"\} 4/);
  metrics.close();
});

test("denials are counted per kind on /metrics", async () => {
  const m = await scrapeMetrics(url + "/metrics");
  assert.ok(metricSum(m, "pylon_forbidden_total", { kind: "room" }) >= 6);
  assert.ok(metricSum(m, "pylon_forbidden_total", { kind: "namespace" }) >= 4);
});
