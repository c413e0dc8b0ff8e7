import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { configReference } from "../../src/config/index.js";
import { embedReference } from "../../scripts/gen-readme-config.js";

test("README embeds the current configuration reference (run `npm run docs:config` after changing the schema)", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  assert.equal(readme, embedReference(readme, configReference()));
});
