import WebSocket from "ws";
import { closePolling, closeWebSocket, describe, nextMessage, openPolling, openWebSocket, parseOpen, postPackets, type Target } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";

/** Bytes kept below the limit for packet framing. */
const MARGIN = 64;

/**
 * payload-limit: sends an Engine.IO noop packet padded to just below maxPayload (the server's maxHttpBufferSize, from
 * the handshake) over polling (one POST) and over WebSocket (one frame): both must be accepted. A proxy body limit
 * below it (nginx client_max_body_size, 1 MB by default) answers 413 first. Then one frame just above the limit
 * must be refused by the server (WebSocket close 1009). Sizes are capped by --payload-cap.
 */
export const payloadCheck: Check = {
  name: "payload-limit",
  async run({ opts, facts }) {
    if (!facts.open) return skip("skipped: no handshake", [], "payload");
    const limit = facts.open.maxPayload;
    if (!(limit > MARGIN)) return skip("skipped: the handshake announced no maxPayload", [], "payload");
    const size = Math.min(limit, opts.payloadCapBytes) - MARGIN;
    const capped = limit > opts.payloadCapBytes;
    const evidence: string[] = [`maxHttpBufferSize (maxPayload) ${limit} bytes; probing with ${size} bytes${capped ? ` (capped by --payload-cap ${opts.payloadCapBytes})` : ""}`];
    const data: Record<string, unknown> = { maxPayload: limit, probeBytes: size };
    let proxyLimit = false;
    if (facts.polling !== false) {
      const opened = await openPolling(opts.target, {}, opts.timeoutMs);
      if (opened.ok) {
        const res = await postPackets(opts.target, opened.session, ["6" + "x".repeat(size - 1)], opts.timeoutMs).catch((e: Error) => e);
        await closePolling(opts.target, opened.session);
        if (res instanceof Error) {
          evidence.push(`polling POST of ${size} bytes: ${res.message}`);
          data.pollingError = res.message;
        }
        else {
          evidence.push(`polling POST of ${size} bytes: ${res.status === 200 ? "accepted" : describe(res)}`);
          data.pollingStatus = res.status;
          if (res.status === 413) proxyLimit = true;
        }
      }
    }
    if (facts.websocket === true || facts.polling === false) {
      const below = await sendFrame(opts.target, size, opts.timeoutMs);
      evidence.push(`websocket frame of ${size} bytes: ${below}`);
      data.websocketBelow = below;
      if (!capped) {
        const above = await sendFrame(opts.target, limit + MARGIN, opts.timeoutMs);
        evidence.push(`websocket frame of ${limit + MARGIN} bytes: ${above}`);
        data.websocketAbove = above;
      }
    }
    if (proxyLimit) {
      return fail(
        "error",
        `the proxy refuses polling messages of ${size} bytes (413) although the server accepts up to ${limit}`,
        evidence,
        `raise the proxy's request body limit above engine.maxHttpBufferSize (nginx: client_max_body_size ${Math.ceil(limit / 1048576) + 1}m), or lower maxHttpBufferSize`,
        "payload",
        data,
      );
    }
    if (typeof data.pollingError === "string") {
      return fail("warn", `a polling POST of ${size} bytes (below maxPayload) failed: ${data.pollingError}`, evidence, "check the proxy's request body limit and timeouts", "payload", data);
    }
    if (typeof data.websocketBelow === "string" && data.websocketBelow !== "accepted") {
      return fail("error", `a ${size}-byte WebSocket message below maxPayload was not accepted`, evidence, "check proxy WebSocket frame/message limits", "payload", data);
    }
    return pass(`messages up to ${size} bytes pass; the limit is ${limit} bytes`, evidence, "payload", data);
  },
};

/** Sends one padded noop frame on a fresh WebSocket; "accepted" when a namespace CONNECT still gets its answer. */
async function sendFrame(target: Target, bytes: number, timeoutMs: number): Promise<string> {
  const opened = await openWebSocket(target, { EIO: "4", transport: "websocket" }, {}, timeoutMs);
  if (!opened.ok) return `WebSocket refused (${opened.error})`;
  const { ws } = opened;
  try {
    if (!parseOpen(await opened.first)) return "no open packet";
    const closed = new Promise<string>((resolve) => ws.once("close", (code) => resolve(`closed by the server (${code}${code === 1009 ? " message too big" : ""})`)));
    ws.send("6" + "x".repeat(bytes - 1));
    ws.send("40");
    const answer = nextMessage(ws, (m) => m.startsWith("40") || m.startsWith("44"), timeoutMs).then((m) => (m ? "accepted" : undefined));
    const r = await Promise.race([answer, closed]);
    return r ?? "no answer after the message";
  } finally {
    if (ws.readyState === WebSocket.OPEN) await closeWebSocket(ws);
    else ws.terminate();
  }
}
