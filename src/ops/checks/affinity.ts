import { closePolling, describe, engineError, openPolling, PACKET, postPackets, send } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";
import { PROBE_PARAM } from "../probe-module.js";

/**
 * session-affinity: one polling session, then N sequential requests carrying its sid, each on a fresh TCP connection
 * (cookies from the handshake are sent back, as a browser does). Every request must reach a node that knows the
 * session: the owner (affinity) or any node that forwards to it (Pylon's sticky-free sessions). "Session ID unknown"
 * (HTTP 400, code 1) means neither: polling clients reconnect in a loop.
 */
export const affinityCheck: Check = {
  name: "session-affinity",
  async run({ opts, facts }) {
    const { target } = opts;
    if (!facts.open) return skip("skipped: no handshake", [], "affinity");
    if (facts.polling === false) return pass("websocket-only: one connection per session, no affinity needed", [], "affinity");
    const opened = await openPolling(target, {}, opts.timeoutMs);
    if (!opened.ok) return skip(`skipped: no polling handshake (${opened.error})`, [], "affinity");
    const s = opened.session;
    const evidence: string[] = [`session ${s.open.sid}${s.cookie ? ` with cookie ${s.cookie.split("=")[0]}` : " (no affinity cookie set)"}`];
    const results: string[] = [];
    let unknown = 0;
    let other = 0;
    for (let i = 0; i < opts.affinityPolls; i++) {
      // noop packets are valid Engine.IO and ignored by the server: a harmless request inside the session
      const res = await postPackets(target, s, [PACKET.noop], opts.timeoutMs).catch((e: Error) => e);
      if (res instanceof Error) {
        other++;
        results.push(`${i + 1}: ${res.message}`);
        continue;
      }
      const err = engineError(res);
      if (err?.code === 1) unknown++;
      else if (res.status !== 200) other++;
      results.push(`${i + 1}: ${res.status === 200 ? "200 ok" : describe(res)}`);
    }
    await closePolling(target, s);
    evidence.push(`requests with one sid on fresh connections: ${results.join("; ")}`);
    const nodes = facts.probe !== false ? await routing(opts.target, Math.min(6, opts.affinityPolls), opts.timeoutMs) : undefined;
    if (nodes) evidence.push(`fresh connections were routed to nodes: ${nodes.join(", ")}`);
    const data = { polls: opts.affinityPolls, unknownSession: unknown, otherErrors: other, nodes: nodes ?? null };
    if (unknown > 0) {
      return fail(
        "error",
        `${unknown} of ${opts.affinityPolls} requests of one session reached a node that does not know it (Session ID unknown): no affinity and no forwarding`,
        evidence,
        "enable Pylon's session forwarding (cluster with a shared backplane: all nodes must reach each other), or session affinity at the load balancer (cookie or ip_hash), or use the websocket-only transport policy",
        "affinity",
        data,
      );
    }
    if (other > 0) return fail("warn", `${other} of ${opts.affinityPolls} in-session requests failed for another reason`, evidence, "see the evidence: the proxy or the server refused in-session requests", "affinity", data);
    const spread = nodes && new Set(nodes).size > 1;
    return pass(
      spread ? "every in-session request was served although the balancer spreads connections (session forwarding works)" : "every in-session request reached a node that knows the session",
      evidence,
      "affinity",
      data,
    );
  },
};

/** Which node answers each of n fresh connections (Pylon probe), or undefined when the probe is not served. */
async function routing(target: Parameters<typeof send>[0], n: number, timeoutMs: number): Promise<string[] | undefined> {
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await send(target, { query: { [PROBE_PARAM]: "node" }, timeoutMs }).catch(() => undefined);
    if (!res || res.status !== 200) return undefined;
    try {
      nodes.push(String((JSON.parse(res.body) as { node: unknown }).node));
    } catch {
      return undefined;
    }
  }
  return nodes;
}
