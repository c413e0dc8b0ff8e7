import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseLoadArgs, UsageError } from "../../src/cli/load.js";
import { loadScenarioFile, LoadOptionsError, parseLoadOptions, parseTransportMix, transportFor } from "../../src/load/index.js";
import { REPO_ROOT, tempDir } from "../helpers/index.js";

test("pylon load flags map onto the load options (the same paths a scenario file uses)", () => {
  const a = parseLoadArgs([
    "http://127.0.0.1:3000",
    "--scenario",
    "broadcast",
    "--clients=500",
    "--rate",
    "250",
    "--transports",
    "ws:0.5,polling:0.2,upgrade:0.3",
    "--rooms",
    "4",
    "--burst",
    "10",
    "--payload",
    "64",
    "--local-address",
    "127.0.0.2,127.0.0.3",
    "--json",
  ]);
  assert.equal(a.json, true);
  assert.deepEqual(a.options, {
    url: "http://127.0.0.1:3000",
    scenario: "broadcast",
    clients: 500,
    rate: 250,
    transports: { websocket: 0.5, polling: 0.2, upgrade: 0.3 },
    broadcast: { rooms: 4, burst: 10, payloadBytes: 64 },
    echo: { payloadBytes: 64 },
    localAddresses: ["127.0.0.2", "127.0.0.3"],
  });
  const opts = parseLoadOptions(a.options);
  assert.equal(opts.broadcast.rate, 20, "defaults fill the rest of a section");
  assert.equal(opts.namespace, "/demo");
});

test("bad flags are usage errors with a message", () => {
  assert.throws(() => parseLoadArgs(["http://x", "--clients", "many"]), (e: Error) => e instanceof UsageError && /--clients needs a number/.test(e.message));
  assert.throws(() => parseLoadArgs(["http://x", "--bogus"]), (e: Error) => e instanceof UsageError && /unknown option --bogus/.test(e.message));
  assert.throws(() => parseLoadArgs(["http://x", "--transports", "carrier-pigeon:1"]), UsageError);
  assert.throws(() => parseLoadArgs(["http://x", "--rate"]), /needs a value/);
  assert.throws(() => parseLoadArgs(["http://x", "--auth", "{token"]), /needs JSON/);
  assert.throws(() => parseLoadArgs(["http://x", "--header", "novalue"]), /Name: value/);
  const a = parseLoadArgs(["http://x", "--auth", '{"token":"t"}', "--header", "Origin: http://a", "--header", "X-Y: z:1"]);
  assert.deepEqual([a.options.auth, a.options.headers], [{ token: "t" }, { Origin: "http://a", "X-Y": "z:1" }]);
  assert.throws(() => parseLoadOptions({ url: "http://x", scenario: "flood" }), (e: Error) => e instanceof LoadOptionsError && /scenario/.test(e.message));
  assert.throws(() => parseLoadOptions({ url: "http://x", clients: 0 }), LoadOptionsError);
});

test("transport mix: parsing and the deterministic per-client assignment follow the weights", () => {
  assert.deepEqual(parseTransportMix("ws"), { websocket: 1, polling: 0, upgrade: 0 });
  assert.throws(() => parseTransportMix("ws:0,polling:0"), /not all be 0/);
  const mix = parseTransportMix("ws:0.5,polling:0.2,upgrade:0.3");
  const counts = { websocket: 0, polling: 0, upgrade: 0 };
  for (let i = 0; i < 1000; i++) counts[transportFor(i, mix)]++;
  assert.ok(Math.abs(counts.websocket - 500) <= 10, JSON.stringify(counts));
  assert.ok(Math.abs(counts.polling - 200) <= 10, JSON.stringify(counts));
  assert.ok(Math.abs(counts.upgrade - 300) <= 10, JSON.stringify(counts));
  for (let i = 0; i < 50; i++) assert.equal(transportFor(i, { websocket: 0, polling: 1, upgrade: 0 }), "polling");
});

test("a YAML scenario file maps 1:1 onto the options; flags override it", async () => {
  const dir = tempDir();
  const file = join(dir, "fanout.yaml");
  writeFileSync(file, "url: http://127.0.0.1:4000\nscenario: broadcast\nclients: 2000\nbroadcast:\n  rooms: 2\n  rate: 5\n");
  const opts = await loadScenarioFile(file, { clients: 10, broadcast: { burst: 3 } });
  assert.equal(opts.scenario, "broadcast");
  assert.equal(opts.clients, 10);
  assert.deepEqual([opts.broadcast.rooms, opts.broadcast.rate, opts.broadcast.burst], [2, 5, 3]);
  writeFileSync(file, "url: http://127.0.0.1:4000\nclientz: 3\n");
  await assert.rejects(loadScenarioFile(file), /clientz|Unrecognized/);
});

test("the example scenario files in bench/scenarios are valid load options", async () => {
  const dir = join(REPO_ROOT, "bench/scenarios");
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 2);
  for (const f of files) {
    const opts = await loadScenarioFile(join(dir, f), { url: "http://127.0.0.1:1" });
    assert.equal(opts.url, "http://127.0.0.1:1", f);
  }
});
