import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, startPylon, useCleanup } from "../helpers/index.js";

const cleanup = useCleanup();

describe("streams demo page in Chromium (browser SDK bundle)", () => {
  it("shows the stream with its seq, publishes through an idempotent command, and resumes after a reload", async () => {
    const node = await startPylon();
    cleanup.add(() => node.stop());
    const browser = await launchChromium();
    cleanup.add(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`${node.url}/streams`);
    await page.waitForSelector("#status.on");
    for (const text of ["one", "two", "three"]) {
      await page.fill("#text", text);
      await page.click("#say button");
      await page.waitForFunction((t) => Array.from(document.querySelectorAll("#log li")).some((li) => li.textContent?.includes(t)), text);
    }
    const items = await page.$$eval("#log li", (lis) => lis.map((li) => li.textContent));
    assert.deepEqual(items, ["#3 three", "#2 two", "#1 one"]);
    assert.match((await page.textContent("#pos")) ?? "", /:3$/);

    // published while the page is away, then a reload: the persisted position resumes after seq 3 (replay of 4, 5 only)
    await page.goto("about:blank");
    const other = await browser.newPage();
    await other.goto(`${node.url}/streams`);
    await other.waitForSelector("#status.on");
    for (const text of ["four", "five"]) {
      await other.fill("#text", text);
      await other.click("#say button");
      await other.waitForFunction((t) => Array.from(document.querySelectorAll("#log li")).some((li) => li.textContent?.includes(t)), text);
    }
    await page.goto(`${node.url}/streams`);
    await page.waitForFunction(() => document.querySelectorAll("#log li").length >= 2);
    const resumed = await page.$$eval("#log li", (lis) => lis.map((li) => [li.textContent, li.className]));
    assert.deepEqual(resumed, [
      ["#5 five", "replayed"],
      ["#4 four", "replayed"],
    ]);
    assert.match((await page.textContent("#events")) ?? "", /replayed 2 message/);
  });
});
