import { test } from "node:test";
import assert from "node:assert/strict";
import { artifactPath, connectClient, emitWithAck, launchChromium, startPylon, useCleanup, waitFor, type ClientSocket } from "../helpers/index.js";

const cleanup = useCleanup();
const TOKEN = "e2e-admin-token-0123456789";

test("admin dashboard in Chromium: wrong token refused; with the token it shows live connections, rates, nodes and security events", async () => {
  const pylon = await startPylon({
    config: { admin: { token: TOKEN, sampleIntervalMs: 500, rateWindowMs: 5000 }, metrics: { eventNames: ["echo", "join", "say", "message"] } },
  });
  cleanup.add(() => pylon.kill());

  // live traffic: 3 websocket, 2 polling and 1 upgrading client in a room, echoing and chatting while the page is open
  const clients: ClientSocket[] = [];
  for (const transports of [["websocket"], ["websocket"], ["websocket"], ["polling"], ["polling"], ["polling", "websocket"]]) {
    const c = await connectClient(`${pylon.url}/demo`, { transports, upgrade: transports.length > 1 });
    clients.push(c);
    await emitWithAck(c, "join", "ops");
  }
  let ticks = 0;
  const traffic = setInterval(() => {
    ticks++;
    for (const c of clients) c.emit("echo", { ticks }, () => undefined);
    clients[0]!.emit("say", { room: "ops", text: `tick ${ticks}` });
  }, 100);
  cleanup.add(() => clearInterval(traffic));

  // one refused API call becomes a recent security event on the dashboard
  const refused = await fetch(`${pylon.url}/api/stats`, { headers: { authorization: "Bearer not-the-token" } });
  assert.equal(refused.status, 401);

  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  cleanup.add(() => context.close());
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));

  await page.goto(`${pylon.url}/admin`);
  await page.locator("#login").waitFor({ state: "visible" });

  // wrong token: the API refuses it and the page says so, showing no data
  await page.fill("#token", "wrong-token-wrong-token");
  await page.click("#connect");
  await page.locator('[data-testid="login-error"]', { hasText: "Invalid token" }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator("#dashboard").isVisible(), false);
  await page.screenshot({ path: artifactPath("admin-wrong-token.png") });

  // right token: live numbers
  await page.fill("#token", TOKEN);
  await page.click("#connect");
  await page.locator("#dashboard").waitFor({ state: "visible", timeout: 10_000 });
  const total = page.locator('[data-testid="connections-total"]');
  await waitFor(async () => Number((await total.textContent())?.replace(/,/g, "")) >= clients.length, {
    timeoutMs: 15_000,
    message: "dashboard shows the live connections",
  });
  await page.locator('[data-testid="by-transport"]', { hasText: "websocket" }).waitFor();
  await page.locator('[data-testid="by-transport"]', { hasText: "polling" }).waitFor();
  await page.locator('[data-testid="by-protocol"]', { hasText: "EIO 4" }).waitFor();
  // rates need two samples; the page polls every 2 s
  await waitFor(async () => Number(await page.locator('[data-testid="events-in"]').textContent()) > 0, {
    timeoutMs: 15_000,
    message: "events in/s above zero",
  });
  await page.locator("#events", { hasText: "echo" }).waitFor();
  await page.locator('[data-testid="nodes"] .self').waitFor({ timeout: 10_000 });
  await page.locator('[data-testid="security-events"]', { hasText: "admin_auth_failed" }).waitFor();
  await waitFor(async () => (await page.locator('[data-testid="ack-p99"]').textContent())?.includes("ms") === true, {
    timeoutMs: 10_000,
    message: "ack latency p99 shown",
  });
  await page.locator('[data-testid="upgrade-rate"]', { hasText: "%" }).waitFor({ timeout: 10_000 });
  // let the chart collect a few points before the screenshot
  await waitFor(async () => ticks > 100, { timeoutMs: 30_000 });
  await page.screenshot({ path: artifactPath("admin-dashboard.png"), fullPage: true });

  const shown = Number((await total.textContent())?.replace(/,/g, ""));
  assert.ok(shown >= clients.length, `live connections shown: ${shown}`);
  assert.deepEqual(pageErrors, []);
  clearInterval(traffic);
});
