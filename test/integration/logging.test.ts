import { test } from "node:test";
import assert from "node:assert/strict";
import { connectClient, emitWithAck, startPylon, useCleanup, waitFor, type LogRecord } from "../helpers/index.js";

const cleanup = useCleanup();

test("debug logs: one JSON line per lifecycle event with socket id, namespace, transport, protocol, address; DEBUG=socket.io:* still works; payloads never logged", async () => {
  const pylon = await startPylon({ env: { PYLON_LOG_LEVEL: "debug", DEBUG: "socket.io:server,socket.io:socket" } });
  cleanup.add(() => pylon.kill());
  // every stdout line is pino JSON
  for (const line of pylon.stdout().split("\n").filter(Boolean)) {
    const rec = JSON.parse(line) as LogRecord;
    assert.equal(typeof rec.level, "number");
    assert.equal(typeof rec.time, "number");
  }

  const secret = "payload-secret-4f9a";
  const client = await connectClient(`${pylon.url}/demo`);
  await waitFor(() => client.io.engine.transport.name === "websocket", { message: "client upgraded" });
  assert.deepEqual(await emitWithAck(client, "echo", { secret }), { secret });
  const id = client.id;
  client.disconnect();

  const byEvent = (event: string): LogRecord | undefined => pylon.records().find((r) => r.event === event && r.socketId === id);
  const connect = await waitFor(() => byEvent("connect"), { message: "connect line" });
  assert.equal(connect.namespace, "/demo");
  assert.equal(connect.transport, "polling");
  assert.equal(connect.protocol, 4);
  assert.equal(connect.address, "127.0.0.1");
  assert.equal(connect.level, 20);
  const upgrade = await waitFor(() => byEvent("upgrade"), { message: "upgrade line" });
  assert.equal(upgrade.transport, "websocket");
  const disconnect = await waitFor(() => byEvent("disconnect"), { message: "disconnect line" });
  assert.equal(disconnect.reason, "client namespace disconnect");

  // socket.io's own debug output (the `debug` module) goes to stderr as usual
  await waitFor(() => /socket\.io:(server|socket)/.test(pylon.stderr()), { message: "DEBUG output on stderr" });
  // payloads are never logged
  assert.ok(!pylon.stdout().includes(secret), "the payload must not be in the pino log");
});
