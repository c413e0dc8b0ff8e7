import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, PylonError, errorBody } from "../../src/protocol/errors.js";
import { REPO_ROOT } from "../helpers/index.js";

const doc = readFileSync(join(REPO_ROOT, "docs", "errors.md"), "utf8");

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test("every error code in ERROR_CODES is documented in docs/errors.md (a heading or a table row)", () => {
  const missing = Object.keys(ERROR_CODES).filter((code) => {
    const c = escape(code);
    const heading = new RegExp(`^#{2,4}\\s+\`?${c}\`?\\s*$`, "m");
    const row = new RegExp(`^\\|\\s*\`?${c}\`?\\s*\\|`, "m");
    return !heading.test(doc) && !row.test(doc);
  });
  assert.deepEqual(missing, [], `add these codes to docs/errors.md: ${missing.join(", ")}`);
});

test("error codes are snake_case and their bodies carry code and message", () => {
  for (const [code, def] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z][a-z0-9_]*$/, code);
    assert.ok(def.message.length > 0, code);
  }
  assert.deepEqual(errorBody("invalid_payload", { path: "room" }), { code: "invalid_payload", message: ERROR_CODES.invalid_payload.message, path: "room" });
  const err = new PylonError("invalid_namespace");
  assert.equal(err.message, "Invalid namespace");
  assert.equal(err.code, "invalid_namespace");
  assert.deepEqual(err.data, { code: "invalid_namespace", message: "Invalid namespace" });
});
