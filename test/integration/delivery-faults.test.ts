import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { artifactPath, useCleanup } from "../helpers/index.js";
import { runFaultSuite, type FaultSuiteResult } from "./delivery-fault-suite.js";

// Reduced size in `npm test`; full size (issue 5) with PYLON_TEST_SIZE=full (`npm run test:guarantees`).
const FULL = process.env.PYLON_TEST_SIZE === "full";
const cleanup = useCleanup();
// transports: a third each in `npm test`; mostly websocket at full size (polling through nginx is the slow part on a
// 2-core machine), still with polling-only and upgrading clients in the mix
// The command phase is bounded (per-call deadline, and a phase limit after publishing ends): a command that does not
// settle fails the run with figures (stuckCommands) instead of running into the test runner's timeout.
const SMALL_MIX = { pollingShare: 0.34, upgradeShare: 0.33, commandWorkers: 10, settleTimeoutMs: 120_000, commandDeadlineMs: 20_000, commandPhaseTimeoutMs: 30_000 };
const FULL_MIX = { pollingShare: 0.1, upgradeShare: 0.1, commandWorkers: 40, settleTimeoutMs: 480_000, commandDeadlineMs: 60_000, commandPhaseTimeoutMs: 240_000 };
const log = (line: string): void => console.log(line);

function report(name: string, r: FaultSuiteResult): void {
  log(`${name}: ${JSON.stringify(r)}`);
  log(`delivery: messages=${r.messages} deliveries=${r.deliveries} lost=${r.lost} duplicates=${r.duplicates} resyncs=${r.resyncs} replayed=${r.replayed} reconnects=${r.reconnects}`);
  log(`commands: sent=${r.commandsSent} calls=${r.commandCalls} effects=${r.effects} runs=${r.runs} crashReruns=${r.crashReruns} failed=${r.failedCommands} stuck=${r.stuckCommands}`);
  try {
    mkdirSync(artifactPath(""), { recursive: true });
    writeFileSync(artifactPath(`delivery-${name}.json`), JSON.stringify(r, null, 2));
  } catch {
    // artifacts are best effort
  }
}

function assertGuarantees(r: FaultSuiteResult, clients: number, streams: number): void {
  assert.equal(r.lost, 0, "no message lost");
  assert.equal(r.duplicates, 0, "no message delivered twice");
  assert.equal(r.outOfOrder, 0, "no message out of order");
  assert.equal(r.resyncs, 0, "no resync with default retention");
  assert.equal(r.fingerprintMismatches, 0, "every client saw the same content at every seq (one total order)");
  assert.equal(r.extraAppends, 0, "no publish appended twice");
  assert.equal(r.deliveries, r.messages * clients, `every client got all ${r.messages} messages of the ${streams} streams`);
  assert.equal(r.stuckCommands, 0, `every command call settled within the command phase (${r.stuckCommands} of ${r.commandCalls} calls still outstanding; see the log)`);
  assert.equal(r.failedCommands, 0, `every command got a result (${r.failedCommands} of ${r.commandCalls} calls failed)`);
  assert.equal(r.mismatchedResults, 0, "every retry received the first result");
  assert.equal(r.wrongEffects, 0, "each command took effect exactly once, and ran again only after its node was killed in the crash window");
  assert.equal(r.effects, r.commandsSent);
}

describe("delivery guarantees under faults", () => {
  it("3 nodes, Redis Streams log, nginx round robin: node SIGKILL, Redis CLIENT KILL, random disconnects", async () => {
    const o = FULL
      ? { clients: 200, streams: 5, messages: 20_000, publishers: 3, nodeKills: 1, redisClientKills: 2, commands: 1000, chaosEveryMs: 50, ...FULL_MIX }
      : { clients: 40, streams: 5, messages: 2000, publishers: 3, nodeKills: 1, redisClientKills: 1, commands: 100, chaosEveryMs: 100, ...SMALL_MIX };
    const r = await runFaultSuite({ mode: "redis", nodes: 3, ...o, log }, cleanup);
    report("redis", r);
    assertGuarantees(r, o.clients, o.streams);
  });

  it("1 node, in-memory log: random disconnects", async () => {
    const o = FULL
      ? { clients: 200, streams: 5, messages: 20_000, publishers: 3, nodeKills: 0, redisClientKills: 0, commands: 1000, chaosEveryMs: 50, ...FULL_MIX }
      : { clients: 40, streams: 5, messages: 2000, publishers: 3, nodeKills: 0, redisClientKills: 0, commands: 100, chaosEveryMs: 100, ...SMALL_MIX };
    const r = await runFaultSuite({ mode: "memory", nodes: 1, ...o, log }, cleanup);
    report("memory", r);
    assertGuarantees(r, o.clients, o.streams);
  });
});
