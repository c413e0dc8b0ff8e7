import { test, before } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { connectClient, useCleanup } from "../helpers/index.js";
import { attackTally } from "../helpers/security.js";
import { startSecurePylon } from "../helpers/secure-pylon.js";

// Origin allowlist: the WebSocket upgrade and polling handshakes from a foreign Origin are refused; the allowed origin
// gets CORS headers; non-browser clients (no Origin) still connect.
useCleanup();
const tally = attackTally("origin");
let url: string;

before(async () => {
  ({ url } = await startSecurePylon({ engine: { corsOrigins: ["https://app.example.com"] } }));
});

function wsHandshake(origin: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", origin ? { origin } : {});
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", () => resolve(-1));
  });
}

test("WebSocket upgrade: foreign Origin refused, allowed Origin and no Origin accepted", async () => {
  for (const evil of ["https://evil.example", "null", "https://app.example.com.evil.example", "http://app.example.com"]) {
    const status = await wsHandshake(evil);
    tally.attempt(`websocket from ${evil}`, status !== 101);
    assert.notEqual(status, 101, evil);
  }
  assert.equal(await wsHandshake("https://app.example.com"), 101);
  assert.equal(await wsHandshake(undefined), 101);
  (await connectClient(url + "/demo", { transports: ["websocket"] })).disconnect();
});

test("polling: foreign Origin refused; the allowed origin gets CORS headers, others none", async () => {
  const evil = await fetch(url + "/socket.io/?EIO=4&transport=polling", { headers: { origin: "https://evil.example" } });
  tally.attempt("polling from a foreign origin", evil.status === 403);
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  const ok = await fetch(url + "/socket.io/?EIO=4&transport=polling", { headers: { origin: "https://app.example.com" } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example.com");
  await ok.text();
  await evil.text();
});
