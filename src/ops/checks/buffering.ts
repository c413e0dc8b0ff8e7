import { describe, send, round } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";
import { PROBE_PARAM } from "../probe-module.js";

const CHUNKS = 5;
const GAP_MS = 250;

/**
 * proxy-buffering: the server writes 5 NDJSON lines 250 ms apart in one plain (Content-Length) response (Pylon's doctor probe, on the engine path); each
 * line carries the server-side timestamp. Through a streaming proxy they arrive spread out like the server wrote them;
 * through a buffering proxy they arrive together at the end, and so would any streamed response.
 */
export const bufferingCheck: Check = {
  name: "proxy-buffering",
  async run({ opts, facts }) {
    const arrivals: { i: number; t: number; at: number }[] = [];
    let pending = "";
    const res = await send(opts.target, {
      query: { [PROBE_PARAM]: "stream", chunks: String(CHUNKS), gap: String(GAP_MS) },
      timeoutMs: opts.timeoutMs + CHUNKS * GAP_MS,
      onChunk: (ms, chunk) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          try {
            const o = JSON.parse(line.trim()) as { i: number; t: number };
            arrivals.push({ i: o.i, t: o.t, at: ms });
          } catch {
            // not a probe line
          }
        }
      },
    }).catch((e: Error) => e);
    if (res instanceof Error) return skip(`skipped: probe request failed (${res.message})`, [], "buffering");
    if (res.status !== 200 || arrivals.length < 2) {
      facts.probe = false;
      return skip("skipped: the server does not answer Pylon's doctor probe (not Pylon, or an older version)", [describe(res)], "buffering");
    }
    facts.probe = true;
    const first = arrivals[0]!;
    const last = arrivals[arrivals.length - 1]!;
    const serverSpread = last.t - first.t;
    const clientSpread = last.at - first.at;
    // delay of the first line beyond what the network adds to the last one
    const firstHeld = first.at - first.t - (last.at - last.t);
    const evidence = [
      `server wrote ${arrivals.length} lines over ${round(serverSpread)} ms; they arrived over ${round(clientSpread)} ms`,
      ...arrivals.map((a) => `line ${a.i}: written at ${round(a.t)} ms, received at ${round(a.at)} ms`),
    ];
    const data = { serverSpreadMs: round(serverSpread), clientSpreadMs: round(clientSpread), firstHeldMs: round(firstHeld) };
    if (clientSpread < serverSpread / 2 && firstHeld > serverSpread / 2) {
      return fail(
        "error",
        `the proxy buffers responses: the first line was held ${round(firstHeld)} ms until the response ended`,
        evidence,
        "turn response buffering off for the Socket.IO path (nginx: proxy_buffering off; ingress-nginx: nginx.ingress.kubernetes.io/proxy-buffering: \"off\")",
        "buffering",
        data,
      );
    }
    return pass("responses stream through the proxy unbuffered", evidence, "buffering", data);
  },
};
