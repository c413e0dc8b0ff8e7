import { closePolling, closeWebSocket, nextMessage, openPolling, openWebSocket, round } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";

const UPGRADE_FIX =
  "forward the WebSocket upgrade: HTTP/1.1 to the upstream and the Upgrade/Connection headers (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade)";

/**
 * websocket-upgrade: a polling session upgrades to WebSocket through the proxy exactly as socket.io-client does
 * (open the WebSocket with the sid, 2probe -> 3probe, 5), and a direct WebSocket handshake works. Otherwise clients
 * stay on long-polling ("stuck on polling").
 */
export const upgradeCheck: Check = {
  name: "websocket-upgrade",
  async run({ opts, facts }) {
    const { target } = opts;
    if (!facts.open) return skip("skipped: no handshake", [], "stuckOnPolling");
    if (facts.polling === false) return pass("websocket-only server: no upgrade needed", ["polling is refused, the handshake itself is a WebSocket"], "stuckOnPolling");
    if (!facts.open.upgrades.includes("websocket")) {
      facts.websocket = false;
      return pass("the server offers no upgrade (polling-only transport policy)", ["open packet upgrades=[]"], "stuckOnPolling");
    }
    const evidence: string[] = [];
    // 1. a direct WebSocket handshake (no session): does the proxy pass upgrades at all?
    const direct = await openWebSocket(target, { EIO: "4", transport: "websocket" }, {}, opts.timeoutMs);
    if (direct.ok) {
      evidence.push(`direct WebSocket: 101 Switching Protocols in ${round(direct.ms)} ms`);
      await closeWebSocket(direct.ws);
    } else {
      evidence.push(`direct WebSocket: ${direct.error}`);
    }
    // 2. the real upgrade of a polling session.
    const polling = await openPolling(target, {}, opts.timeoutMs);
    if (!polling.ok) return fail("error", "polling handshake failed during the upgrade check", [...evidence, polling.error], UPGRADE_FIX, "stuckOnPolling");
    const s = polling.session;
    const up = await openWebSocket(target, { EIO: "4", transport: "websocket", sid: s.open.sid }, s.cookie ? { cookie: s.cookie } : {}, opts.timeoutMs);
    let upgraded = false;
    if (up.ok) {
      up.ws.send("2probe");
      const probe = await nextMessage(up.ws, (m) => m === "3probe", opts.timeoutMs);
      if (probe) {
        up.ws.send("5");
        upgraded = true;
        evidence.push(`session upgrade: 101 in ${round(up.ms)} ms, 2probe answered 3probe, upgraded`);
      } else {
        evidence.push(`session upgrade: 101 but the probe (2probe) got no 3probe within ${opts.timeoutMs} ms`);
      }
      await closeWebSocket(up.ws);
    } else {
      evidence.push(`session upgrade: ${up.error}`);
    }
    await closePolling(target, s);
    facts.websocket = direct.ok;
    if (upgraded && direct.ok) return pass("WebSocket upgrade works through the proxy", evidence, "stuckOnPolling");
    if (direct.ok && !upgraded) {
      const unknownSid = !up.ok && up.res !== undefined && /"code":1\b|Session ID unknown/.test(up.res.body);
      return fail(
        "error",
        unknownSid
          ? "the upgrade reached a node that does not own the session: clients stay on polling (no affinity, no forwarding)"
          : "the upgrade of a polling session fails: clients stay on polling",
        evidence,
        unknownSid ? "enable session forwarding (Pylon cluster) or session affinity at the load balancer" : UPGRADE_FIX,
        unknownSid ? "affinity" : "stuckOnPolling",
      );
    }
    return fail("error", "WebSocket upgrade fails through the proxy: clients are stuck on polling", evidence, UPGRADE_FIX, "stuckOnPolling", {
      status: up.ok ? 101 : (up.status ?? null),
    });
  },
};
