import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHistogram, mergeEncoded, newHistogram, recordMs, summarize, summarizeEncoded } from "../../src/load/histogram.js";

test("histograms recorded in different workers merge through encode/decode", () => {
  const a = newHistogram();
  const b = newHistogram();
  for (let i = 1; i <= 900; i++) recordMs(a, i / 10); // 0.1 .. 90 ms
  for (let i = 0; i < 100; i++) recordMs(b, 500); // a slow tail in the other worker
  const merged = mergeEncoded([encodeHistogram(a), "", encodeHistogram(b)]);
  assert.equal(merged.totalCount, 1000);
  const s = summarize(merged);
  assert.equal(s.count, 1000);
  assert.ok(Math.abs(s.p50 - 50) < 0.2, `p50 ${s.p50}`);
  assert.ok(s.p90 >= 89 && s.p90 <= 90.1, `p90 ${s.p90}`);
  assert.ok(Math.abs(s.p99 - 500) < 1, `p99 ${s.p99}`);
  assert.ok(Math.abs(s.max - 500) < 1, `max ${s.max}`);
  assert.ok(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max);
});

test("an empty merge summarises to zeros, and sub-microsecond values clamp to 1 us", () => {
  assert.deepEqual(summarizeEncoded([]), { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  const h = newHistogram();
  recordMs(h, 0);
  recordMs(h, 0.0004);
  const s = summarize(h);
  assert.equal(s.count, 2);
  assert.equal(s.max, 0.001);
});
