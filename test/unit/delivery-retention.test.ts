import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { globMatch, retentionFor, type Retention } from "../../src/delivery/log.js";

describe("retention rules by stream-name pattern", () => {
  const defaults: Retention = { maxCount: 100, maxAgeMs: 1000, maxBytes: 4096 };
  it("matches globs with * and literal dots", () => {
    assert.equal(globMatch("chat.*", "chat.room1"), true);
    assert.equal(globMatch("chat.*", "chatXroom"), false);
    assert.equal(globMatch("*.audit", "orders.audit"), true);
    assert.equal(globMatch("a*b*c", "a-b-c"), true);
    assert.equal(globMatch("exact", "exact"), true);
    assert.equal(globMatch("exact", "exactly"), false);
  });
  it("takes the first matching rule and fills its gaps from the defaults", () => {
    const rules = [
      { pattern: "chat.*", maxCount: 5 },
      { pattern: "chat.vip", maxCount: 500, maxAgeMs: 0 },
      { pattern: "audit.*", maxAgeMs: 0, maxBytes: 8192 },
    ];
    const cache = new Map<string, Retention>();
    assert.deepEqual(retentionFor("chat.vip", defaults, rules, cache), { maxCount: 5, maxAgeMs: 1000, maxBytes: 4096 });
    assert.deepEqual(retentionFor("audit.x", defaults, rules, cache), { maxCount: 100, maxAgeMs: 0, maxBytes: 8192 });
    assert.deepEqual(retentionFor("other", defaults, rules, cache), defaults);
    assert.equal(cache.size, 3);
  });
});
