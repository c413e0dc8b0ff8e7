import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, configReference, loadConfig, maskSecrets, parseConfig, type ConfigIssue } from "../../src/config/index.js";
import { configFields } from "../../src/config/fields.js";

function dir(): string {
  return mkdtempSync(join(tmpdir(), "pylon-config-unit-"));
}

function file(name: string, text: string): string {
  const p = join(dir(), name);
  writeFileSync(p, text);
  return p;
}

/** The ConfigError thrown by fn (fails the test when nothing or something else is thrown). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, "config_invalid");
    return err;
  }
  assert.fail("expected a ConfigError");
}

function issueAt(err: ConfigError, path: string): ConfigIssue {
  const issue = err.issues.find((i) => i.path === path);
  assert.ok(issue, `no issue for ${path}; issues: ${JSON.stringify(err.issues)}`);
  return issue;
}

/** The documented line format: `  <path>: <message>; got <value> (from <source>); allowed: <allowed>`. */
function assertLine(err: ConfigError, path: string, value: string, source: RegExp, allowed: string): void {
  const line = err.message.split("\n").find((l) => l.startsWith(`  ${path || "(root)"}: `) && l.includes(`got ${value} `));
  assert.ok(line, `no line for ${path} with value ${value} in:\n${err.message}`);
  assert.match(line, source);
  assert.ok(line.endsWith(`allowed: ${allowed}`), `line should end with "allowed: ${allowed}": ${line}`);
}

test("{} is a valid config; defaults follow the production playbook; the result is frozen", () => {
  const c = parseConfig({});
  assert.equal(c.server.port, 3000);
  assert.equal(c.engine.transports, "websocket+polling");
  assert.ok(c.engine.maxHttpBufferSize <= 1_000_000);
  assert.equal(c.engine.perMessageDeflate, false);
  assert.equal(c.engine.allowEIO3, false);
  assert.equal(c.engine.path, "/socket.io/");
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.engine));
  assert.throws(() => {
    (c.engine as { pingInterval: number }).pingInterval = 1;
  }, TypeError);
});

test("every schema field has a default, a description, an env name and a flag", () => {
  const fields = configFields();
  assert.ok(fields.length > 20);
  for (const f of fields) {
    assert.notEqual(f.node.default, undefined, `${f.key} needs a default`);
    assert.ok((f.node.description ?? "").length > 0, `${f.key} needs a description`);
    assert.ok(f.envNames.length > 0 && f.envNames.every((e) => /^[A-Z][A-Z0-9_]*$/.test(e)), `${f.key} env names`);
    assert.match(f.flag, /^--[A-Za-z0-9.-]+$/, `${f.key} flag`);
  }
});

test("enum: an invalid value names the field, the value, where it came from and the allowed values", () => {
  const err = configError(() => loadConfig({ argv: ["--engine.transports", "carrier-pigeon"] }));
  const i = issueAt(err, "engine.transports");
  assert.equal(i.value, "carrier-pigeon");
  assert.equal(i.source, "flag --engine.transports");
  assert.equal(i.allowed, 'one of "websocket+polling" | "websocket" | "polling"');
  assertLine(err, "engine.transports", '"carrier-pigeon"', /\(from flag --engine\.transports\)/, 'one of "websocket+polling" | "websocket" | "polling"');
});

test("integer range: below the minimum, above the maximum and a fraction are refused with the range", () => {
  for (const [raw, value] of [
    ["10", "10"],
    ["300001", "300001"],
    ["1500.5", "1500.5"],
  ] as const) {
    const err = configError(() => loadConfig({ argv: ["--engine.pingInterval", raw] }));
    assert.equal(issueAt(err, "engine.pingInterval").value, Number(raw));
    assertLine(err, "engine.pingInterval", value, /\(from flag --engine\.pingInterval\)/, "an integer from 1000 to 300000");
  }
  const notNumber = configError(() => loadConfig({ env: { PYLON_ENGINE_PING_TIMEOUT: "soon" } }));
  assertLine(notNumber, "engine.pingTimeout", '"soon"', /\(from env PYLON_ENGINE_PING_TIMEOUT\)/, "an integer from 1000 to 300000");
  const port = configError(() => loadConfig({ argv: ["--port", "70000"] }));
  assertLine(port, "server.port", "70000", /\(from flag --port\)/, "an integer from 0 to 65535");
});

test("boolean: words other than true/false/1/0/yes/no/on/off are refused (env, flag and file)", () => {
  const env = configError(() => loadConfig({ env: { PYLON_ENGINE_ALLOW_EIO3: "maybe" } }));
  assertLine(env, "engine.allowEIO3", '"maybe"', /\(from env PYLON_ENGINE_ALLOW_EIO3\)/, "true or false");
  const flag = configError(() => loadConfig({ argv: ["--engine.allowEIO3", "maybe"] }));
  assertLine(flag, "engine.allowEIO3", '"maybe"', /\(from flag --engine\.allowEIO3\)/, "true or false");
  const f = file("pylon.config.json", JSON.stringify({ engine: { perMessageDeflate: "yes" } }));
  const fromFile = configError(() => loadConfig({ argv: ["--config", f] }));
  assertLine(fromFile, "engine.perMessageDeflate", '"yes"', new RegExp(`\\(from file ${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)`), "true or false");
  // accepted spellings
  for (const [word, expected] of [["on", true], ["0", false], ["YES", true], ["off", false]] as const) {
    assert.equal(loadConfig({ env: { PYLON_ENGINE_ALLOW_EIO3: word } }).config.engine.allowEIO3, expected, word);
  }
  // a bare boolean flag means true; followed by another flag too
  assert.equal(loadConfig({ argv: ["--engine.allowEIO3"] }).config.engine.allowEIO3, true);
  const both = loadConfig({ argv: ["--engine.allowEIO3", "--engine.perMessageDeflate", "false"] }).config.engine;
  assert.equal(both.allowEIO3, true);
  assert.equal(both.perMessageDeflate, false);
});

test("every enum, bounded integer and boolean field refuses a bad value naming its path and what is allowed", () => {
  let checked = 0;
  for (const f of configFields()) {
    const bad: string[] = [];
    if (f.kind === "enum") bad.push("not-a-valid-choice");
    if (f.kind === "boolean") bad.push("maybe");
    if (f.kind === "integer") {
      bad.push("1.5", "abc");
      if (f.node.minimum !== undefined) bad.push(String(f.node.minimum - 1));
      if (f.node.maximum !== undefined) bad.push(String(f.node.maximum + 1));
    }
    for (const raw of bad) {
      const err = configError(() => loadConfig({ argv: [f.flag, raw] }));
      const i = issueAt(err, f.key);
      assert.equal(i.source, `flag ${f.flag}`);
      assert.ok(i.allowed.length > 0 && i.allowed !== "see docs", `${f.key}: allowed is described`);
      if (f.kind === "enum") assert.match(i.allowed, /^one of /);
      if (f.kind === "boolean") assert.equal(i.allowed, "true or false");
      if (f.kind === "integer") assert.match(i.allowed, /^an integer/);
      assert.ok(err.message.includes(`  ${f.key}: `), err.message);
      checked++;
    }
  }
  assert.ok(checked > 30, `checked ${checked} bad values`);
});

test("unknown fields (nested and top-level) are refused with their path", () => {
  const f = file("pylon.config.json", JSON.stringify({ engine: { pingIntervall: 1000 }, bogus: { a: 1 } }));
  const err = configError(() => loadConfig({ argv: ["--config", f] }));
  const nested = issueAt(err, "engine.pingIntervall");
  assert.equal(nested.message, "unknown field");
  assert.equal(nested.value, 1000);
  assert.equal(nested.source, `file ${f}`);
  assert.equal(issueAt(err, "bogus").message, "unknown field");
  assertLine(err, "engine.pingIntervall", "1000", /\(from file /, "no such field (see `pylon config docs`)");
  const direct = configError(() => parseConfig({ server: { prot: 1 } }));
  assert.equal(issueAt(direct, "server.prot").source, "input");
});

test("unknown flag, flag without a value and a stray argument are refused", () => {
  const unknown = configError(() => loadConfig({ argv: ["--engine.pingIntervall", "1000"] }));
  assert.equal(unknown.issues[0]!.message, "unknown flag");
  assert.equal(unknown.issues[0]!.value, "--engine.pingIntervall");
  assertLine(unknown, "", '"--engine.pingIntervall"', /\(from flag --engine\.pingIntervall\)/, "a known flag (see `pylon config docs`)");
  const noValue = configError(() => loadConfig({ argv: ["--engine.pingInterval"] }));
  assert.equal(issueAt(noValue, "engine.pingInterval").message, "flag needs a value");
  const stray = configError(() => loadConfig({ argv: ["--port", "1234", "extra"] }));
  assert.equal(stray.issues[0]!.message, "unexpected argument");
  assert.equal(stray.issues[0]!.value, "extra");
});

test("bad JSON, bad YAML, a non-object file and a missing file are refused naming the file", () => {
  const badJson = file("pylon.config.json", '{ "engine": { "pingInterval": 1000, } ');
  let err = configError(() => loadConfig({ argv: ["--config", badJson] }));
  assert.match(err.issues[0]!.message, /^cannot parse config file/);
  assert.equal(err.issues[0]!.source, `file ${badJson}`);
  assert.match(err.issues[0]!.allowed, /valid JSON/);

  const badYaml = file("pylon.config.yaml", "engine:\n  pingInterval: [1000\n  transports: websocket\n");
  err = configError(() => loadConfig({ argv: ["--config", badYaml] }));
  assert.match(err.issues[0]!.message, /^cannot parse config file/);
  assert.match(err.message, /pylon\.config\.yaml/);

  const array = file("pylon.config.json", "[1, 2]");
  err = configError(() => loadConfig({ argv: ["--config", array] }));
  assert.match(err.issues[0]!.message, /top level must be an object/);

  const missing = join(dir(), "nope.json");
  err = configError(() => loadConfig({ argv: ["--config", missing] }));
  assert.match(err.issues[0]!.message, /^cannot read config file/);
  assert.match(err.message, /nope\.json/);
  assert.equal(err.issues[0]!.allowed, "a readable JSON or YAML file");
});

test("precedence: defaults < file < env < flags, with the source of each value", () => {
  const f = file("pylon.config.json", JSON.stringify({ engine: { pingInterval: 5000, pingTimeout: 6000, connectTimeout: 7000 } }));
  const loaded = loadConfig({
    argv: ["--config", f, "--engine.connectTimeout", "9000"],
    env: { PYLON_ENGINE_PING_TIMEOUT: "8000", PYLON_ENGINE_CONNECT_TIMEOUT: "8500" },
  });
  assert.equal(loaded.config.engine.pingInterval, 5000); // file
  assert.equal(loaded.config.engine.pingTimeout, 8000); // env over file
  assert.equal(loaded.config.engine.connectTimeout, 9000); // flag over env and file
  assert.equal(loaded.config.engine.upgradeTimeout, 10_000); // default
  assert.equal(loaded.file, f);
  assert.equal(loaded.sources["engine.pingInterval"], `file ${f}`);
  assert.equal(loaded.sources["engine.pingTimeout"], "env PYLON_ENGINE_PING_TIMEOUT");
  assert.equal(loaded.sources["engine.connectTimeout"], "flag --engine.connectTimeout");
  // programmatic overrides sit between env and flags
  const o = loadConfig({ env: { PYLON_ENGINE_PING_TIMEOUT: "8000" }, overrides: { engine: { pingTimeout: 3000, pingInterval: 4000 } }, argv: ["--engine.pingInterval", "4500"] });
  assert.equal(o.config.engine.pingTimeout, 3000);
  assert.equal(o.config.engine.pingInterval, 4500);
});

test("PORT and PYLON_PORT set the port; PYLON_SERVER_PORT wins over both; --port wins over env", () => {
  assert.equal(loadConfig({ env: { PORT: "4001" } }).config.server.port, 4001);
  assert.equal(loadConfig({ env: { PYLON_PORT: "4002" } }).config.server.port, 4002);
  assert.equal(loadConfig({ env: { PORT: "4001", PYLON_PORT: "4002" } }).config.server.port, 4002);
  assert.equal(loadConfig({ env: { PORT: "4001", PYLON_PORT: "4002", PYLON_SERVER_PORT: "4003" } }).config.server.port, 4003);
  assert.equal(loadConfig({ env: { PORT: "4001" }, argv: ["--port", "4004"] }).config.server.port, 4004);
  assert.equal(loadConfig({ env: { PORT: "4001" }, argv: ["--port=4005"] }).config.server.port, 4005);
  const err = configError(() => loadConfig({ env: { PORT: "http" } }));
  assertLine(err, "server.port", '"http"', /\(from env PORT\)/, "an integer from 0 to 65535");
});

test("config files: pylon.config.json / .yaml found in cwd, PYLON_CONFIG names one, --config wins", () => {
  const d = dir();
  writeFileSync(join(d, "pylon.config.json"), JSON.stringify({ engine: { pingInterval: 2000 } }));
  assert.equal(loadConfig({ cwd: d }).config.engine.pingInterval, 2000);
  const y = dir();
  writeFileSync(join(y, "pylon.config.yaml"), "engine:\n  pingInterval: 3000\n  transports: websocket\n");
  const fromYaml = loadConfig({ cwd: y }).config;
  assert.equal(fromYaml.engine.pingInterval, 3000);
  assert.equal(fromYaml.engine.transports, "websocket");
  const other = file("other.yml", "engine:\n  pingInterval: 4000\n");
  assert.equal(loadConfig({ cwd: d, env: { PYLON_CONFIG: other } }).config.engine.pingInterval, 4000);
  const third = file("third.json", JSON.stringify({ engine: { pingInterval: 5000 } }));
  assert.equal(loadConfig({ cwd: d, env: { PYLON_CONFIG: other }, argv: ["--config", third] }).config.engine.pingInterval, 5000);
  // an empty YAML file is an empty config
  assert.equal(loadConfig({ argv: ["--config", file("empty.yaml", "")] }).config.server.port, 3000);
});

test("unknown PYLON_* variables are reported as warnings, not errors", () => {
  const loaded = loadConfig({ env: { PYLON_ENGINE_PINGINTERVAL: "1", PYLON_CONFIG: "", HOME: "/x" } });
  assert.deepEqual(loaded.warnings, ["unknown environment variable PYLON_ENGINE_PINGINTERVAL (not a config field; see `pylon config docs`)"]);
});

test("secrets are masked in printed config and in errors", () => {
  const loaded = loadConfig({ env: { PYLON_CLUSTER_REDIS_URL: "redis://:hunter2@127.0.0.1:6390/0" } });
  assert.equal(loaded.config.cluster.redisUrl, "redis://:hunter2@127.0.0.1:6390/0");
  const masked = maskSecrets(loaded.config) as { cluster: { redisUrl: string } };
  assert.equal(masked.cluster.redisUrl, "***");
  assert.ok(!JSON.stringify(masked).includes("hunter2"));
  // an empty secret stays empty (nothing to hide)
  assert.equal((maskSecrets(parseConfig({})) as { cluster: { redisUrl: string } }).cluster.redisUrl, "");
  // every secret field is masked when set
  for (const f of configFields().filter((x) => x.secret && x.kind === "string")) {
    const withSecret = loadConfig({ argv: [f.flag, "s3cr3t-value-that-must-not-print"] });
    assert.ok(!JSON.stringify(maskSecrets(withSecret.config)).includes("s3cr3t-value"), `${f.key} is masked`);
  }
});

test("the reference (pylon config docs) lists every field with its env names and flag", () => {
  const ref = configReference();
  for (const f of configFields()) {
    assert.ok(ref.includes(`| \`${f.key}\` |`), `${f.key} missing from the reference`);
    for (const e of f.envNames) assert.ok(ref.includes(`\`${e}\``), `${e} missing`);
    assert.ok(ref.includes(`\`${f.flag}\``), `${f.flag} missing`);
  }
});
