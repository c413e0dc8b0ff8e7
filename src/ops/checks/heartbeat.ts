import { closePolling, closeWebSocket, nextMessage, openPolling, openWebSocket, parseOpen, percentile, poll, postPackets, round, splitPayload, type Target } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";

/** Below this a pingTimeout is fragile on mobile networks whatever the RTT here (socket.io's default is 20 s). */
const MIN_SAFE_PING_TIMEOUT_MS = 5000;

/**
 * heartbeat: measures round trips through the proxy (Socket.IO namespace CONNECT/DISCONNECT pairs: the server answers
 * each CONNECT at once) and compares the RTT and its jitter with pingTimeout, the time a pong may take before the
 * server drops the client. A pingTimeout too close to the worst RTT turns every latency spike into "ping timeout".
 */
export const heartbeatCheck: Check = {
  name: "heartbeat",
  async run({ opts, facts }) {
    if (!facts.open) return skip("skipped: no handshake", [], "heartbeat");
    const useWs = facts.websocket === true || facts.polling === false;
    const samples = useWs ? await rttWebSocket(opts.target, opts.rttSamples, opts.timeoutMs) : await rttPolling(opts.target, opts.rttSamples, opts.timeoutMs);
    if (typeof samples === "string") return skip(`skipped: ${samples}`, [], "heartbeat");
    const p50 = percentile(samples, 50);
    const p99 = percentile(samples, 99);
    const max = Math.max(...samples);
    const min = Math.min(...samples);
    const jitter = max - min;
    const { pingInterval, pingTimeout } = facts.open;
    const evidence = [
      `${samples.length} round trips over ${useWs ? "websocket" : "polling"}: min ${round(min, 2)} ms, p50 ${round(p50, 2)} ms, p99 ${round(p99, 2)} ms, max ${round(max, 2)} ms, jitter ${round(jitter, 2)} ms`,
      `pingInterval ${pingInterval} ms, pingTimeout ${pingTimeout} ms (${round(pingTimeout / Math.max(max, 0.001), 0)}x the worst RTT)`,
    ];
    const data = { samples: samples.length, p50Ms: round(p50, 2), p99Ms: round(p99, 2), maxMs: round(max, 2), jitterMs: round(jitter, 2), pingInterval, pingTimeout };
    if (pingTimeout < 2 * max) {
      return fail("error", `pingTimeout (${pingTimeout} ms) is below twice the worst measured RTT (${round(max)} ms): clients will be dropped with "ping timeout"`, evidence, "raise engine.pingTimeout (default 20000 ms) well above the worst RTT", "heartbeat", data);
    }
    if (pingTimeout < 10 * (p99 + jitter)) {
      return fail("warn", `pingTimeout (${pingTimeout} ms) leaves little room for RTT spikes (p99 ${round(p99)} ms, jitter ${round(jitter)} ms)`, evidence, "raise engine.pingTimeout", "heartbeat", data);
    }
    if (pingTimeout < MIN_SAFE_PING_TIMEOUT_MS) {
      return fail("warn", `pingTimeout ${pingTimeout} ms is short for mobile networks (radio wake-up alone can take 2 s)`, evidence, `raise engine.pingTimeout to at least ${MIN_SAFE_PING_TIMEOUT_MS} ms`, "heartbeat", data);
    }
    return pass(`pingTimeout ${pingTimeout} ms is ${round(pingTimeout / Math.max(max, 0.001), 0)}x the worst measured RTT`, evidence, "heartbeat", data);
  },
};

async function rttWebSocket(target: Target, n: number, timeoutMs: number): Promise<number[] | string> {
  const opened = await openWebSocket(target, { EIO: "4", transport: "websocket" }, {}, timeoutMs);
  if (!opened.ok) return `WebSocket refused (${opened.error})`;
  const { ws } = opened;
  try {
    if (!parseOpen(await opened.first)) return "no Engine.IO open packet";
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      ws.send("40");
      const answer = await nextMessage(ws, (m) => m.startsWith("40") || m.startsWith("44"), timeoutMs);
      if (!answer) return samples.length >= 3 ? samples : "no answer to a namespace CONNECT";
      samples.push(performance.now() - t);
      if (answer.startsWith("40")) {
        ws.send("41");
        // socket.io handles the DISCONNECT on the next tick: a CONNECT in the same read would find the socket still there
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return samples;
  } finally {
    await closeWebSocket(ws);
  }
}

async function rttPolling(target: Target, n: number, timeoutMs: number): Promise<number[] | string> {
  const opened = await openPolling(target, {}, timeoutMs);
  if (!opened.ok) return `no polling handshake (${opened.error})`;
  const s = opened.session;
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const posted = await postPackets(target, s, ["40"], timeoutMs);
      if (posted.status !== 200) break;
      const got = await poll(target, s, timeoutMs);
      const packets = splitPayload(got.body);
      if (!packets.some((p) => p.startsWith("40") || p.startsWith("44"))) break;
      // a polling round trip is two requests: halve it to compare with a websocket RTT
      samples.push((performance.now() - t) / 2);
      if (packets.some((p) => p.startsWith("40"))) await postPackets(target, s, ["41"], timeoutMs);
    }
  } catch {
    // fall through with what we have
  } finally {
    await closePolling(target, s);
  }
  return samples.length >= 3 ? samples : "too few polling round trips";
}
