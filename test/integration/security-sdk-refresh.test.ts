import { test } from "node:test";
import assert from "node:assert/strict";
import { delay, useCleanup, waitFor } from "../helpers/index.js";
import { startSecurePylon } from "../helpers/secure-pylon.js";
import { PylonClient } from "../../src/client/index.js";
import { generateSigningKeys, mintToken } from "../../src/security/tokens.js";

// The SDK's getToken callback: used for the handshake and, before expiry, for auth:refresh, so a socket whose tokens
// live 3 s stays connected well past the first token's expiry.
useCleanup();

test("the SDK refreshes the token through the user's callback before it expires", async () => {
  const keys = await generateSigningKeys("EdDSA");
  const { url } = await startSecurePylon({ security: { jwt: { mode: "required", publicKey: JSON.stringify(keys.publicJwk), clockToleranceSec: 0 } } });
  let calls = 0;
  const getToken = async (): Promise<string> => {
    calls++;
    return mintToken({ privatePem: keys.privatePem, alg: "EdDSA", kid: keys.kid, sub: "sdk-user", ttlSec: 3 });
  };
  const client = new PylonClient(url, { getToken, refreshAheadMs: 2000, socket: { transports: ["websocket"] } });
  const errors: unknown[] = [];
  const disconnects: string[] = [];
  client.on("auth_error", (e) => errors.push(e));
  client.on("disconnect", (r) => disconnects.push(r));
  try {
    await waitFor(() => client.connected, { message: "SDK connected" });
    await waitFor(() => calls >= 3, { timeoutMs: 10_000, message: "two refreshes" });
    await delay(1500); // past the first token's expiry (at most 3 s after connect)
    assert.equal(client.connected, true);
    assert.deepEqual(disconnects, []);
    assert.deepEqual(errors, []);
    assert.equal(await client.refreshToken(), true);
  } finally {
    client.close();
  }
});
