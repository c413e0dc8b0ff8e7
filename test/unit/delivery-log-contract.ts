import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Retention, StreamLog } from "../../src/delivery/log.js";
import type { StreamMessage } from "../../src/protocol/streams.js";
import { waitFor } from "../helpers/index.js";

export interface LogFactoryOptions {
  retention: (stream: string) => Retention;
  now?: () => number;
}

/** The one contract every StreamLog implementation passes (memory ring, Redis Streams). */
export function runLogContract(label: string, create: (opts: LogFactoryOptions) => Promise<StreamLog & { drop(stream: string): unknown }>): void {
  const big: Retention = { maxCount: 100_000, maxAgeMs: 0, maxBytes: 64 * 1024 * 1024 };
  const append = (log: StreamLog, stream: string, i: number, id: string = randomUUID()) =>
    log.append(stream, { event: "e", dataJson: JSON.stringify({ i }), ts: Date.now(), id });

  describe(`StreamLog contract: ${label}`, () => {
    it("assigns seq 1..N without holes and reads them back in order", async () => {
      const log = await create({ retention: () => big });
      try {
        const s = `t-${randomUUID()}`;
        const first = await log.head(s);
        assert.equal(first.head, 0);
        for (let i = 1; i <= 25; i++) {
          const r = await append(log, s, i);
          assert.equal(r.seq, i);
          assert.equal(r.epoch, first.epoch);
          assert.equal(r.duplicate, false);
        }
        const r = await log.read(s, 10, 100);
        assert.equal(r.head, 25);
        assert.equal(r.oldest, 1);
        assert.deepEqual(r.messages.map((m) => m.seq), Array.from({ length: 15 }, (_, k) => 11 + k));
        assert.deepEqual(r.messages[0]!.data, { i: 11 });
        assert.equal(r.messages[0]!.event, "e");
        const limited = await log.read(s, 0, 5);
        assert.deepEqual(limited.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
        assert.deepEqual((await log.read(s, 25, 10)).messages, []);
      } finally {
        await log.close();
      }
    });

    it("concurrent appends get distinct consecutive seqs, and the feed delivers them in seq order", async () => {
      const log = await create({ retention: () => big });
      try {
        const s = `t-${randomUUID()}`;
        const seen: StreamMessage[] = [];
        const off = log.watch((m) => {
          if (m.stream === s) seen.push(m);
        });
        await (log as { ready?: () => Promise<void> }).ready?.();
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => append(log, s, i)));
        const seqs = results.map((r) => r.seq).sort((a, b) => a - b);
        assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
        await waitFor(() => seen.length === 200, { timeoutMs: 5000, message: "feed did not deliver 200 messages" });
        assert.deepEqual(seen.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
        off();
      } finally {
        await log.close();
      }
    });

    it("an append retried with the same id is not appended twice", async () => {
      const log = await create({ retention: () => big });
      try {
        const s = `t-${randomUUID()}`;
        const a = await append(log, s, 1, "same-id-123");
        const b = await append(log, s, 1, "same-id-123");
        assert.equal(b.seq, a.seq);
        assert.equal(b.duplicate, true);
        assert.equal((await log.head(s)).head, 1);
      } finally {
        await log.close();
      }
    });

    it("trims by count and reports oldest, so a reader can tell it is behind retention", async () => {
      const log = await create({ retention: () => ({ maxCount: 10, maxAgeMs: 0, maxBytes: 64 * 1024 * 1024 }) });
      try {
        const s = `t-${randomUUID()}`;
        for (let i = 1; i <= 500; i++) await append(log, s, i);
        const r = await log.read(s, 0, 10);
        assert.equal(r.head, 500);
        assert.ok(r.oldest > 1, `oldest ${r.oldest} should be past 1 after trimming`);
        assert.ok(r.oldest <= 491, "at least maxCount messages are kept");
        assert.deepEqual(r.messages, [], "never a partial replay from a trimmed position");
        const tail = await log.read(s, 490, 100);
        assert.deepEqual(tail.messages.map((m) => m.seq), Array.from({ length: 10 }, (_, i) => 491 + i));
      } finally {
        await log.close();
      }
    });

    it("trims by age: a reader behind the age limit sees the position as trimmed", async () => {
      let now = Date.now();
      const log = await create({ retention: () => ({ maxCount: 100_000, maxAgeMs: 1000, maxBytes: 64 * 1024 * 1024 }), now: () => now });
      try {
        const s = `t-${randomUUID()}`;
        for (let i = 1; i <= 5; i++) await log.append(s, { event: "e", dataJson: "1", ts: now, id: randomUUID() });
        now += 5000;
        for (let i = 6; i <= 8; i++) await log.append(s, { event: "e", dataJson: "1", ts: now, id: randomUUID() });
        const r = await log.read(s, 0, 100);
        assert.equal(r.head, 8);
        assert.equal(r.oldest, 6);
        assert.deepEqual(r.messages, []);
        assert.deepEqual((await log.read(s, 5, 100)).messages.map((m) => m.seq), [6, 7, 8]);
      } finally {
        await log.close();
      }
    });

    it("a lost/recreated log gets a new epoch and starts again at seq 1", async () => {
      const log = await create({ retention: () => big });
      try {
        const s = `t-${randomUUID()}`;
        await append(log, s, 1);
        await append(log, s, 2);
        const before = await log.head(s);
        await log.drop(s);
        const after = await log.head(s);
        assert.notEqual(after.epoch, before.epoch);
        assert.equal(after.head, 0);
        const r = await append(log, s, 3);
        assert.equal(r.seq, 1);
        assert.equal(r.epoch, after.epoch);
      } finally {
        await log.close();
      }
    });

    it("streams are independent", async () => {
      const log = await create({ retention: () => big });
      try {
        const a = `a-${randomUUID()}`;
        const b = `b-${randomUUID()}`;
        await append(log, a, 1);
        await append(log, a, 2);
        assert.equal((await append(log, b, 1)).seq, 1);
        assert.equal((await log.head(a)).head, 2);
      } finally {
        await log.close();
      }
    });
  });
}
