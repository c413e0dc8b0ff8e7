import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Ajv } from "ajv";
import { z } from "zod";
import WebSocket from "ws";
import { connectClient, emitWithAck, useCleanup, type ClientSocket } from "../helpers/index.js";
import { attackTally } from "../helpers/security.js";
import { startSecurePylon } from "../helpers/secure-pylon.js";
import { DEMO_EVENTS } from "../../src/security/index.js";

// Property-based fuzzing of event payloads (fast-check) against every demo event, plus a zod-declared event and raw
// malformed Socket.IO frames: a handler only ever sees data valid for its schema, and the process never throws.
useCleanup();
const tally = attackTally("schemas");
const FULL = process.env.PYLON_TEST_SIZE === "full";
const RUNS = FULL ? 1000 : 120;

const seen: { event: string; payload: unknown }[] = [];
const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => {
  uncaught.push(err);
};
let url: string;
let client: ClientSocket;

const zodSpec = z.object({ id: z.number().int().nonnegative(), tags: z.array(z.string().max(16)).max(4) }).strict();

before(async () => {
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  const record = (event: string) => (payload: unknown, ack?: unknown) => {
    seen.push({ event, payload });
    if (typeof ack === "function") (ack as (r: unknown) => void)({ ok: true });
  };
  const started = await startSecurePylon({}, [
    {
      // the demo's schemas on a namespace whose handlers record what they receive
      name: "/rec",
      events: { ...DEMO_EVENTS, tagged: { schema: zodSpec } },
      onConnection(socket) {
        for (const e of ["echo", "join", "say", "tagged"]) socket.on(e, record(e));
      },
    },
  ]);
  url = started.url;
  client = await connectClient(url + "/rec", { transports: ["websocket"] });
});

after(() => {
  process.off("uncaughtException", onUncaught);
  process.off("unhandledRejection", onUncaught);
});

// An independent validator (not the one under test) to check what handlers saw.
const ajv = new Ajv({ strict: false });
const checks: Record<string, (v: unknown) => boolean> = {
  echo: () => true,
  join: ajv.compile(DEMO_EVENTS.join!.schema as object),
  say: ajv.compile(DEMO_EVENTS.say!.schema as object),
  tagged: (v) => zodSpec.safeParse(v).success,
};

const room = fc.stringMatching(/^[A-Za-z0-9_:.-]{1,64}$/);
const nearlyRoom = fc.oneof(room, fc.string({ maxLength: 80 }), fc.constant(""), fc.constant("a".repeat(65)), fc.constant("room with spaces"));
const payloads: Record<string, fc.Arbitrary<unknown>> = {
  echo: fc.oneof(fc.anything({ maxDepth: 12 }), fc.jsonValue({ maxDepth: 12 })),
  join: fc.oneof(nearlyRoom, fc.anything({ maxDepth: 3 })),
  say: fc.oneof(
    fc.record({ room: nearlyRoom, text: fc.string({ maxLength: 5000 }) }),
    fc.record({ room: nearlyRoom, text: fc.anything({ maxDepth: 2 }), extra: fc.anything({ maxDepth: 2 }) }, { requiredKeys: [] }),
    fc.anything({ maxDepth: 4 }),
  ),
  tagged: fc.oneof(
    fc.record({ id: fc.integer({ min: -5, max: 1e6 }), tags: fc.array(fc.string({ maxLength: 20 }), { maxLength: 6 }) }),
    fc.anything({ maxDepth: 3 }),
  ),
};

for (const event of Object.keys(payloads)) {
  test(`fuzz ${event}: the handler only sees valid payloads; invalid ones get an error ack`, async () => {
    await fc.assert(
      fc.asyncProperty(payloads[event]!, async (payload) => {
        const before = seen.length;
        const res = await emitWithAck<{ ok?: true; error?: { code: string; path?: string } }>(client, event, payload);
        const handled = seen.slice(before);
        if (res.error) {
          tally.attempt(`${event} invalid payload`, handled.length === 0);
          assert.equal(handled.length, 0, "a refused event reached its handler");
          assert.ok(["invalid_payload", "payload_too_large"].includes(res.error.code), res.error.code);
        } else {
          assert.equal(handled.length, 1);
          assert.ok(checks[event]!(handled[0]!.payload), `handler saw invalid data: ${JSON.stringify(handled[0]!.payload)?.slice(0, 200)}`);
        }
      }),
      { numRuns: RUNS },
    );
  });
}

test("unknown events, extra arguments and oversized/deep payloads never reach a handler", async () => {
  const before = seen.length;
  const cases: [string, unknown[], string][] = [
    ["nope", [1], "unknown_event"],
    ["__proto__", [{}], "unknown_event"],
    ["constructor", [{}], "unknown_event"],
    ["join", ["lobby", "extra"], "invalid_payload"],
    ["echo", ["x".repeat(20_000)], "payload_too_large"],
    ["echo", [JSON.parse("[".repeat(50) + "]".repeat(50))], "payload_too_large"],
    ["say", [{ room: "lobby", text: "hi", __proto__: { polluted: true } }], "ok"],
  ];
  for (const [event, args, code] of cases) {
    const res = await emitWithAck<{ ok?: true; error?: { code: string } }>(client, event, ...args);
    if (code === "ok") continue;
    tally.attempt(`${event} ${code}`, res.error?.code === code);
    assert.equal(res.error?.code, code, event);
  }
  assert.ok(seen.slice(before).every((s) => s.event === "say"));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("raw malformed Socket.IO frames do not crash the server", async () => {
  const ws = new WebSocket(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket");
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  ws.send("40/rec,");
  const frames = fc.sample(
    fc.oneof(
      fc.string().map((s) => `42/rec,${s}`),
      fc.jsonValue().map((v) => `42/rec,${JSON.stringify(v)}`),
      fc.jsonValue().map((v) => `42/rec,1${JSON.stringify(["echo", v])}`),
      fc.constant(`42/rec,["echo",${"[".repeat(5000)}${"]".repeat(5000)}]`),
      fc.constant("42/rec,[\"join\",{\"toString\":1}]"),
      fc.constant("451-/rec,[\"echo\",{\"_placeholder\":true,\"num\":0}]"),
      fc.string(),
    ),
    FULL ? 2000 : 300,
  );
  for (const f of frames) if (ws.readyState === WebSocket.OPEN) ws.send(f);
  tally.attempt("raw malformed frames", true);
  ws.close();
  // the server still serves a well-behaved client afterwards
  assert.deepEqual(await emitWithAck(client, "echo", { after: "fuzz" }), { ok: true });
  assert.deepEqual(uncaught, []);
});
