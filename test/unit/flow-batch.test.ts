import { test } from "node:test";
import assert from "node:assert/strict";
import { batch, type BatchPayload } from "../../src/flow/batch.js";
import { WriteCoalescer } from "../../src/transport/coalescer.js";

/** A target recording what batch() emits (a stand-in for a socket or io.to(room), which only need emit()). */
function recorder(): { emitted: [string, BatchPayload<number>][]; emit(event: string, payload: BatchPayload<number>): void } {
  const emitted: [string, BatchPayload<number>][] = [];
  return { emitted, emit: (event, payload) => void emitted.push([event, payload]) };
}

test("batch: items added within one tick leave as one event with a growing sequence", async () => {
  const target = recorder();
  const b = batch<number>(target, "cursor");
  for (let i = 0; i < 5; i++) b.add(i);
  assert.equal(target.emitted.length, 0, "nothing sent before the end of the tick");
  await new Promise((r) => setImmediate(r));
  b.add(5);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(target.emitted, [
    ["cursor", { seq: 1, items: [0, 1, 2, 3, 4] }],
    ["cursor", { seq: 2, items: [5] }],
  ]);
  b.close();
});

test("batch: window and maxItems; close() flushes and stops", async () => {
  const target = recorder();
  const b = batch<number>(target, "t", { windowMs: 20, maxItems: 3 });
  b.add(1);
  b.add(2);
  b.add(3); // maxItems reached: sent now
  assert.deepEqual(target.emitted, [["t", { seq: 1, items: [1, 2, 3] }]]);
  b.add(4);
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(target.emitted[1], ["t", { seq: 2, items: [4] }]);
  b.add(5);
  b.close();
  assert.deepEqual(target.emitted[2], ["t", { seq: 3, items: [5] }]);
  assert.throws(() => b.add(6), /after close/);
  assert.throws(() => batch(target, "x", { windowMs: -1 }), /windowMs/);
});

test("coalescer: corks until the end of the tick, then uncorks every socket once and starts a new generation", async () => {
  const c = new WriteCoalescer();
  const calls: string[] = [];
  const sock = { writableLength: 0, destroyed: false, cork: () => calls.push("cork"), uncork: () => calls.push("uncork") };
  const g1 = c.begin();
  assert.equal(c.begin(), g1, "same tick, same generation");
  c.cork(sock);
  assert.equal(c.corkedCount, 1);
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(calls, ["cork", "uncork"]);
  assert.notEqual(c.begin(), g1, "next tick, new generation");
  c.close();
});
