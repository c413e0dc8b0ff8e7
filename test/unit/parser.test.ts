// Pylon's parser (src/protocol/parser.ts) against socket.io-parser itself: for every packet of a corpus (valid and
// malformed, hand-written and generated) both decoders give the same packets or the same error, and both encoders
// the same output. The direct path must be taken for the common shapes (else it would be dead code).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type * as Parser from "socket.io-parser";
import { PylonDecoder, PylonEncoder, decodeTextPacket, encodeAckText, encodeTextPacket, encodesLikePylon } from "../../src/protocol/parser.js";

const reference = createRequire(import.meta.url)("socket.io-parser") as typeof Parser;

type Outcome = { packets: unknown[] } | { error: string };

/** A decoded packet with its data array copied: Pylon's decoder tags event arrays with their wire size (a symbol key,
 * checked in security-rules.test.ts), which the reference decoder does not; the packet itself must be the same. */
const untagged = (p: unknown): unknown => {
  const packet = p as { data?: unknown };
  return Array.isArray(packet.data) ? { ...packet, data: [...(packet.data as unknown[])] } : p;
};

function decodeAll(decoder: Parser.Decoder, inputs: readonly (string | Buffer)[]): Outcome {
  const packets: unknown[] = [];
  decoder.on("decoded", (p: unknown) => packets.push(untagged(p)));
  try {
    for (const x of inputs) decoder.add(x);
    return { packets };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function sameAsReference(inputs: readonly (string | Buffer)[]): void {
  const mine = decodeAll(new PylonDecoder(), inputs);
  const theirs = decodeAll(new reference.Decoder(), inputs);
  assert.deepEqual(mine, theirs, `decoding ${JSON.stringify(inputs.map(String))}`);
  // same keys in the same order (socket.io code and applications may print or spread packets)
  if ("packets" in mine && "packets" in theirs) {
    mine.packets.forEach((p, i) => assert.deepEqual(Object.keys(p as object), Object.keys(theirs.packets[i] as object)));
  }
}

const HAND_WRITTEN = [
  '2["echo",1]',
  '2["echo",{"a":[1,2,{"b":null}]}]',
  '21["echo","x"]',
  '20["zero"]',
  '2007["leading zeros"]',
  '2/chat,["hi"]',
  '2/chat,12["hi",{"n":1}]',
  '2/a[b,["nsp with a bracket"]',
  '2/,["empty-ish nsp"]',
  '2[42]',
  '2[1.5,"numeric name"]',
  '3["ok"]',
  '31[]',
  '3/chat,9[{"ok":true}]',
  '3/chat,9["a","b"]',
  '2["connect"]',
  '2["disconnect"]',
  '2["newListener"]',
  '2[]',
  '2[null]',
  '2[true]',
  '2[{"not":"a name"}]',
  '2{"not":"an array"}',
  '3{"not":"an array"}',
  '3"str"',
  '2["bad json"',
  '2[',
  '2',
  '3',
  '2/chat',
  '2/chat,',
  '2/chat,12',
  '21',
  '2 1["space in id"]',
  '21 ["space after id"]',
  '2x["junk before payload"]',
  '2/chat,x["junk after nsp"]',
  '2["echo"]trailing',
  '2["\\u2028 unicode \u00e9 \ud83d\ude00"]',
  '9["unknown type"]',
  '0',
  '0{"token":"x"}',
  '0/chat,{"token":"x"}',
  '1',
  '1/chat,',
  '4{"message":"x"}',
  '',
];

test("decoder: hand-written corpus (valid, reserved names, malformed) decodes exactly like socket.io-parser", () => {
  for (const s of HAND_WRITTEN) sameAsReference([s]);
  // several packets on one decoder, mixing the direct path and the reference one
  sameAsReference(['2["a"]', "0", '3/chat,1["b"]', "1/chat,", '21["c"]']);
});

test("decoder: binary packets and their attachments go through socket.io-parser unchanged", () => {
  const buf = Buffer.from([1, 2, 3]);
  sameAsReference(['51-["file",{"_placeholder":true,"num":0}]', buf]);
  sameAsReference(['52-/chat,7["two",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', buf, Buffer.from([4])]);
  sameAsReference(['61-3[{"_placeholder":true,"num":0}]', buf]);
  // text while an attachment is expected, and an attachment nobody announced: the reference's errors
  sameAsReference(['51-["file",{"_placeholder":true,"num":0}]', '2["text"]']);
  sameAsReference([buf]);
});

test("decoder: generated packets (random nsp, id, payloads, truncations) decode exactly like socket.io-parser", () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = ["echo", "join", "say", "x", "connect", "disconnecting", "", "é", "a,b"];
  const values = [0, -1, 1e21, "s", "", null, true, [], [1, [2]], { a: 1 }, { "": { b: [null] } }];
  for (let n = 0; n < 3000; n++) {
    let s = String(2 + rnd(2));
    if (rnd(3) === 0) s += `/${["chat", "a/b", "n s", "x,y"][rnd(4)]},`;
    if (rnd(2) === 0) s += String(rnd(100000));
    const payload: unknown[] = rnd(8) === 0 ? [] : [rnd(6) === 0 ? rnd(9) : names[rnd(names.length)]];
    for (let k = rnd(4); k > 0; k--) payload.push(values[rnd(values.length)]);
    s += rnd(10) === 0 ? JSON.stringify({ p: payload }) : JSON.stringify(payload);
    if (rnd(6) === 0) s = s.slice(0, rnd(s.length + 1)); // truncated
    if (rnd(12) === 0) s = s.slice(0, 1) + " " + s.slice(1); // a stray character
    sameAsReference([s]);
  }
});

test("decoder: the direct path is taken for the common shapes and declines the rest", () => {
  assert.deepEqual(decodeTextPacket('2/chat,12["hi",1]'), { type: 2, nsp: "/chat", id: 12, data: ["hi", 1] });
  assert.deepEqual(decodeTextPacket('3["ok"]'), { type: 3, nsp: "/", data: ["ok"] });
  for (const s of ['51-["f",{"_placeholder":true,"num":0}]', "0", '2["connect"]', "2[", '2 1["x"]', '2{"a":1}']) {
    assert.equal(decodeTextPacket(s), undefined, s);
  }
});

test("encoder: same output as socket.io-parser for text, nested, special and binary payloads", () => {
  const mine = new PylonEncoder();
  const theirs = new reference.Encoder();
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const datas: unknown[] = [
    ["echo", 1],
    ["echo", { a: [1, { b: "c" }], d: null, e: undefined }],
    [{ ok: true }],
    [],
    ["when", new Date(0)],
    ["point", new Point(1, 2)],
    ["buf", Buffer.from([1, 2])],
    ["nested", { deep: { er: { buf: new Uint8Array([3]) } } }],
    ["ab", new ArrayBuffer(2)],
    ["map", new Map([["k", 1]])],
    ["deep", [[[[[[[[[[["ten levels"]]]]]]]]]]]],
    ["nullproto", Object.assign(Object.create(null) as object, { k: 1 })],
    ["tojson", { toJSON: () => "custom" }],
    ["unicode \u2028 \ud83d\ude00"],
  ];
  for (const data of datas) {
    for (const type of [0, 1, 2, 3, 4]) {
      for (const extra of [{}, { nsp: "/" }, { nsp: "/chat" }, { nsp: "/chat", id: 7 }, { id: 0 }]) {
        const packet = { type, data: type === 1 ? undefined : data, ...extra } as Parameters<typeof mine.encode>[0];
        assert.deepEqual(mine.encode({ ...packet }), theirs.encode({ ...packet }), JSON.stringify({ type, extra }));
      }
    }
  }
  assert.equal(encodeTextPacket({ type: 3, nsp: "/chat", id: 7, data: [{ ok: true }] }), '3/chat,7[{"ok":true}]', "direct path taken");
  assert.equal(encodeTextPacket({ type: 2, nsp: "/", data: ["buf", Buffer.from([1])] }), undefined, "binary declined");
});

test("encodeAckText: the reference encoder's string for plain-JSON acks, undefined for the rest", () => {
  const enc = new reference.Encoder();
  for (const nsp of ["/", "/demo"]) {
    for (const data of [[], [1], ["é", { a: [null, true, 1.5] }], [{ deep: { er: [[1]] } }]] as unknown[][]) {
      const [want] = enc.encode({ type: 3, nsp, id: 42, data });
      assert.equal(encodeAckText(nsp, 42, data), want);
    }
  }
  assert.equal(encodeAckText("/", 1, [Buffer.from([1])]), undefined);
  assert.equal(encodeAckText("/", 1, [new Date(0)]), undefined);
  assert.ok(encodesLikePylon(new PylonEncoder()));
  assert.ok(!encodesLikePylon(new reference.Encoder()));
});
