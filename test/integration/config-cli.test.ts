import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configFields } from "../../src/config/fields.js";
import { CLI_PATH, REPO_ROOT, freePort, spawnTracked, startPylon, tempDir, useCleanup, waitFor, withTimeout } from "../helpers/index.js";

const cleanup = useCleanup();

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === "PORT" || k.startsWith("PYLON_") || k === "NODE_TEST_CONTEXT" || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs the built CLI to completion (bounded by timeoutMs). */
async function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTracked(process.execPath, [CLI_PATH, ...args], "pylon-cli", { cwd: opts.cwd ?? tempDir(), env: baseEnv(opts.env) });
  const timer = setTimeout(() => child.signal("SIGKILL"), opts.timeoutMs ?? 15_000);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

async function handshake(url: string): Promise<{ pingInterval: number; pingTimeout: number; maxPayload: number }> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  return JSON.parse((await res.text()).slice(1)) as { pingInterval: number; pingTimeout: number; maxPayload: number };
}

test("pylon config check FILE prints the effective config with the Redis URL masked", async () => {
  const dir = tempDir();
  const file = join(dir, "my.yaml");
  writeFileSync(file, "engine:\n  transports: websocket\n  pingInterval: 15000\ncluster:\n  redisUrl: redis://:hunter2@127.0.0.1:6390/0\n");
  const r = await cli(["config", "check", file, "--engine.pingTimeout", "9000"], { env: { PYLON_ENGINE_MAX_HTTP_BUFFER_SIZE: "50000" } });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { file: string; config: Record<string, Record<string, unknown>> };
  assert.equal(out.file, file);
  assert.equal(out.config.engine!.transports, "websocket");
  assert.equal(out.config.engine!.pingInterval, 15000);
  assert.equal(out.config.engine!.pingTimeout, 9000);
  assert.equal(out.config.engine!.maxHttpBufferSize, 50000);
  assert.equal(out.config.cluster!.redisUrl, "***");
  assert.ok(!r.stdout.includes("hunter2") && !r.stderr.includes("hunter2"));
});

test("pylon config check reports every bad field and exits non-zero", async () => {
  const dir = tempDir();
  const file = join(dir, "pylon.config.json");
  writeFileSync(file, JSON.stringify({ engine: { transports: "smoke-signals", pingInterval: 5, nope: true } }));
  const r = await cli(["config", "check", file]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^invalid configuration:/);
  assert.match(r.stderr, /engine\.transports: .*got "smoke-signals" \(from file .*pylon\.config\.json\); allowed: one of "websocket\+polling" \| "websocket" \| "polling"/);
  assert.match(r.stderr, /engine\.pingInterval: .*got 5 .*allowed: an integer from 1000 to 300000/);
  assert.match(r.stderr, /engine\.nope: unknown field; got true/);
  // found in the working directory without naming it
  const again = await cli(["config", "check"], { cwd: dir });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /smoke-signals/);
});

test("pylon config docs lists every field", async () => {
  const r = await cli(["config", "docs"]);
  assert.equal(r.code, 0);
  for (const f of configFields()) assert.ok(r.stdout.includes(`| \`${f.key}\` |`), `${f.key} missing from config docs`);
});

test("an invalid config makes pylon serve exit non-zero with the message on stderr (flag, env, file, unknown flag)", async () => {
  const badFile = join(tempDir(), "bad.json");
  writeFileSync(badFile, "{ not json");
  const cases: { args: string[]; env?: Record<string, string>; re: RegExp }[] = [
    { args: ["--engine.transports", "udp"], re: /engine\.transports: .*got "udp" \(from flag --engine\.transports\)/ },
    { args: [], env: { PYLON_ENGINE_ALLOW_EIO3: "perhaps" }, re: /engine\.allowEIO3: .*got "perhaps" \(from env PYLON_ENGINE_ALLOW_EIO3\); allowed: true or false/ },
    { args: ["--config", badFile], re: /cannot parse config file/ },
    { args: ["--config", join(tempDir(), "missing.json")], re: /cannot read config file/ },
    { args: ["--no-such-flag", "1"], re: /unknown flag; got "--no-such-flag"/ },
  ];
  await Promise.all(
    cases.map(async (c) => {
      const r = await cli(["serve", "--host", "127.0.0.1", "--port", "0", ...c.args], { env: c.env ?? {} });
      assert.equal(r.code, 2, `${c.args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^invalid configuration:/);
      assert.match(r.stderr, c.re);
      assert.ok(!/listening on/.test(r.stdout));
    }),
  );
});

test("a running server follows file < env < flags (seen in the Engine.IO handshake)", async () => {
  const fileOnly = await startPylon({ config: { engine: { pingInterval: 5000, pingTimeout: 6000, maxHttpBufferSize: 70000 } } });
  cleanup.add(() => fileOnly.kill());
  assert.deepEqual(await handshake(fileOnly.url).then((h) => [h.pingInterval, h.pingTimeout, h.maxPayload]), [5000, 6000, 70000]);
  const layered = await startPylon({
    config: { engine: { pingInterval: 5000, pingTimeout: 6000, maxHttpBufferSize: 70000 } },
    env: { PYLON_ENGINE_PING_INTERVAL: "7000", PYLON_ENGINE_PING_TIMEOUT: "8000" },
    args: ["--engine.pingTimeout", "9000"],
  });
  cleanup.add(() => layered.kill());
  assert.deepEqual(await handshake(layered.url).then((h) => [h.pingInterval, h.pingTimeout, h.maxPayload]), [7000, 9000, 70000]);
});

async function serveWithEnv(env: Record<string, string>, args: string[] = []): Promise<number> {
  const child = spawnTracked(process.execPath, [CLI_PATH, "serve", "--host", "127.0.0.1", ...args], "pylon", { cwd: tempDir(), env: baseEnv(env) });
  cleanup.add(() => child.stop("SIGKILL"));
  const line = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(child.stdout()), { timeoutMs: 15_000, message: "listening line" });
  const port = Number(line[1]);
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(res.status, 200);
  await child.stop("SIGTERM");
  return port;
}

test("PORT and PYLON_PORT set the port of pylon serve; --port wins", async () => {
  const [a, b, c, flag] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const [pa, pb, pc] = await Promise.all([
    serveWithEnv({ PORT: String(a) }),
    serveWithEnv({ PYLON_PORT: String(b) }),
    serveWithEnv({ PORT: String(a), PYLON_PORT: String(c) }, ["--port", String(flag)]),
  ]);
  assert.equal(pa, a);
  assert.equal(pb, b);
  assert.equal(pc, flag);
});

test("npm start -- --port N passes flags through to pylon serve", async () => {
  const port = await freePort();
  // --ignore-scripts skips the prestart build (the test runner built dist/ already); `start` itself still runs
  const npm = spawn("npm", ["start", "--ignore-scripts", "--silent", "--", "--port", String(port), "--host", "127.0.0.1"], {
    cwd: REPO_ROOT,
    env: baseEnv(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  npm.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  npm.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => npm.once("exit", (code) => r(code)));
  // npm runs the server in a child: stop the whole process group we created
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-npm.pid!, sig);
    } catch {
      // gone
    }
  };
  cleanup.add(() => killGroup("SIGKILL"));
  await waitFor(() => out.includes(`listening on http://127.0.0.1:${port}`), { timeoutMs: 30_000, message: `npm start listening on ${port}` });
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  killGroup("SIGTERM");
  await withTimeout(exited, 15_000, "npm start exit after SIGTERM");
});

test("pylon serve on a port already in use exits 1 with a fatal 'failed to start' line naming EADDRINUSE", async () => {
  const port = await freePort();
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(port, "127.0.0.1", r));
  cleanup.add(() => new Promise<void>((r) => holder.close(() => r())));
  const r = await cli(["serve", "--host", "127.0.0.1", "--port", String(port)]);
  assert.equal(r.code, 1);
  const fatal = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { code?: string } })
    .find((rec) => rec.msg === "failed to start");
  assert.ok(fatal, `no 'failed to start' line in:\n${r.stdout}${r.stderr}`);
  assert.equal(fatal.level, 60);
  assert.equal(fatal.err?.code, "EADDRINUSE");
});
