import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SessionIdPool, ownerOf, sidOf } from "../../src/transport/session-router-ids.js";

describe("session ids that name their owner node", () => {
  it("round-trips every valid node id", () => {
    const pool = new SessionIdPool();
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/), (nodeId) => {
        const sid = pool.next(nodeId);
        assert.equal(ownerOf(sid), nodeId);
        assert.match(sid, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20}$/);
      }),
    );
  });

  it("ids are unique", () => {
    const pool = new SessionIdPool();
    const ids = new Set(Array.from({ length: 10_000 }, () => pool.next("n1")));
    assert.equal(ids.size, 10_000);
  });

  it("one pool: unique, well-formed ids across many refills of its random bytes", () => {
    const pool = new SessionIdPool();
    const ids = Array.from({ length: 5_000 }, () => pool.next("node-7"));
    assert.equal(new Set(ids).size, ids.length);
    for (const sid of ids) assert.match(sid, /^node-7\.[A-Za-z0-9_-]{20}$/);
  });

  it("plain engine.io ids and garbage name no owner", () => {
    for (const sid of ["", "AAAAAAAAAAAAAAAAAAAA", ".abc", "a b.c", `${"x".repeat(33)}.abc`, "n1/..x"]) assert.equal(ownerOf(sid), undefined, sid);
  });

  it("reads sid from the query string only", () => {
    assert.equal(sidOf("/socket.io/?EIO=4&transport=polling&sid=n1.abc"), "n1.abc");
    assert.equal(sidOf("/socket.io/?EIO=4&transport=polling"), undefined);
    assert.equal(sidOf("/socket.io/"), undefined);
    assert.equal(sidOf(undefined), undefined);
    assert.equal(sidOf(`/socket.io/?sid=${"x".repeat(200)}`), undefined);
    assert.equal(sidOf("/socket.io/?EIO=4&%73id=n1.abc"), "n1.abc", "a percent-encoded key is decoded as engine.io does");
    assert.equal(sidOf("/socket.io/?xsid=a&sid=n1.b&sid=n1.c"), "n1.b", "the first parameter named exactly sid");
    assert.equal(sidOf("/socket.io/?sid=&EIO=4"), undefined);
    assert.equal(sidOf("/socket.io/?EIO=4&sid=n1.abc&t=1"), "n1.abc");
    fc.assert(
      fc.property(fc.webQueryParameters(), (query) => {
        const url = `/socket.io/?${query}`;
        const expected = new URLSearchParams(query).get("sid");
        assert.equal(sidOf(url), expected && expected.length <= 128 ? expected : undefined, url);
      }),
    );
    const param = fc.tuple(fc.constantFrom("sid", "xsid", "sidx", "EIO", "transport", "s%69d"), fc.stringMatching(/^[A-Za-z0-9._~%+-]{0,30}$/));
    fc.assert(
      fc.property(fc.array(param, { maxLength: 5 }), (params) => {
        const query = params.map(([k, v]) => `${k}=${v}`).join("&");
        let expected: string | null = null;
        try {
          expected = new URLSearchParams(query).get("sid");
        } catch {
          return;
        }
        assert.equal(sidOf(`/socket.io/?${query}`), expected && expected.length <= 128 ? expected : undefined, query);
      }),
      { numRuns: 2000 },
    );
  });
});
