import { test } from "node:test";
import assert from "node:assert/strict";
import { artifactPath, launchChromium, startPylon, useCleanup } from "../helpers/index.js";

const cleanup = useCleanup();

test("demo page in Chromium: two pages join a room, a message sent on one arrives on the other, transport upgraded to websocket", async () => {
  const pylon = await startPylon();
  cleanup.add(() => pylon.kill());
  const browser = await launchChromium();
  cleanup.add(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 900, height: 720 } });
  const [alice, bob] = [await context.newPage(), await context.newPage()];
  const pageErrors: string[] = [];
  for (const p of [alice, bob]) p.on("pageerror", (err) => pageErrors.push(err.message));

  for (const p of [alice, bob]) {
    await p.goto(`${pylon.url}/`);
    await p.locator("#conn", { hasText: "connected" }).waitFor({ timeout: 15_000 });
    // the official client starts on polling and upgrades; the page shows it
    await p.locator("#upgraded", { hasText: /^upgraded: polling → websocket$/ }).waitFor({ timeout: 15_000 });
    assert.equal(await p.locator("#transport").textContent(), "websocket");
    await p.fill("#room", "e2e-room");
    await p.click("#join");
    await p.waitForSelector('body[data-joined="e2e-room"]', { timeout: 10_000 });
  }

  const text = `hello from alice ${Date.now()}`;
  await alice.fill("#text", text);
  await alice.click("#send");
  await bob.locator("#log li", { hasText: text }).waitFor({ timeout: 10_000 });
  await alice.locator("#log li", { hasText: text }).waitFor({ timeout: 10_000 });
  const bobLine = await bob.locator("#log li", { hasText: text }).textContent();
  assert.ok(bobLine?.includes("e2e-room"), `bob sees the room: ${bobLine}`);
  const aliceLine = await alice.locator("#log li", { hasText: text }).textContent();
  assert.ok(aliceLine?.includes("you"), `alice sees her own message marked as hers: ${aliceLine}`);

  await bob.screenshot({ path: artifactPath("demo-page.png"), fullPage: true });
  assert.deepEqual(pageErrors, []);
  await context.close();
});
