import { closePolling, describe, engineError, nextMessage, type Target, openPolling, openWebSocket, closeWebSocket, parseOpen, poll, postPackets, send, splitPayload, round } from "../eio.js";
import { fail, pass, type Check } from "../finding.js";

/**
 * handshake: an Engine.IO v4 handshake works through the URL; which protocol versions are served (EIO 4, EIO 3 for
 * socket.io-client v2), the Socket.IO protocol answer to a namespace CONNECT, and the transports offered.
 */
export const handshakeCheck: Check = {
  name: "handshake",
  async run({ opts, facts }) {
    const { target } = opts;
    const evidence: string[] = [];
    const polling = await openPolling(target, {}, opts.timeoutMs);
    if (!polling.ok) {
      // A websocket-only server refuses polling with "Transport unknown": try a direct WebSocket handshake.
      const err = polling.res ? engineError(polling.res) : undefined;
      if (err?.code === 0) {
        const ws = await openWebSocket(target, { EIO: "4", transport: "websocket" }, {}, opts.timeoutMs);
        if (ws.ok) {
          const first = await ws.first;
          await closeWebSocket(ws.ws);
          const open = parseOpen(first);
          if (open) {
            facts.open = open;
            facts.polling = false;
            facts.websocket = true;
            return pass(
              `Engine.IO 4 over WebSocket only (polling refused: websocket-only policy)`,
              [`polling handshake: ${polling.error}`, `websocket handshake: 101 in ${round(ws.ms)} ms`, openLine(open)],
              "handshake",
              { ...open, transports: ["websocket"] },
            );
          }
        }
      }
      facts.polling = false;
      return fail(
        "error",
        "no Engine.IO handshake through this URL",
        [`GET ${target.path}?EIO=4&transport=polling: ${polling.error}`],
        `check the URL and --path; the proxy must route ${target.path} to Pylon`,
        "handshake",
      );
    }
    const { session } = polling;
    const open = session.open;
    facts.open = open;
    facts.polling = true;
    evidence.push(`polling handshake: HTTP ${session.res.status} in ${round(session.res.ms)} ms${session.res.headers.server ? ` via ${String(session.res.headers.server)}` : ""}`);
    evidence.push(openLine(open));

    // Socket.IO protocol: CONNECT to the main namespace; 40{sid} (ok) or 44{message} (refused) both prove Socket.IO v5.
    let sio = "no Socket.IO answer";
    const connectPacket = opts.token ? `40${JSON.stringify({ token: opts.token })}` : "40";
    const posted = await postPackets(target, session, [connectPacket], opts.timeoutMs).catch((e: Error) => e);
    if (!(posted instanceof Error) && posted.status === 200) {
      const got = await poll(target, session, opts.timeoutMs).catch((e: Error) => e);
      if (!(got instanceof Error)) {
        const packets = splitPayload(got.body);
        const connect = packets.find((p) => p.startsWith("40") || p.startsWith("44"));
        if (connect?.startsWith("40")) sio = "Socket.IO protocol 5 (server 3.x/4.x): namespace / accepted the CONNECT";
        else if (connect?.startsWith("44")) sio = `Socket.IO protocol 5 (server 3.x/4.x): namespace / refused the CONNECT (${connect.slice(2, 120)})`;
        else sio = `unexpected poll answer: ${describe(got)}`;
      }
    } else {
      sio = `POST refused: ${posted instanceof Error ? posted.message : describe(posted)}`;
    }
    if (!sio.startsWith("Socket.IO protocol 5") && !(posted instanceof Error) && engineError(posted)?.code === 1) {
      // the POST reached another node (no affinity: see session-affinity); ask over one WebSocket connection instead
      evidence.push(`${sio} (the in-session POST reached another node: see session-affinity)`);
      sio = await socketIoOverWebSocket(target, opts.timeoutMs);
    }
    evidence.push(sio);
    await closePolling(target, session);

    // EIO=3 (socket.io-client v2): accepted only with engine.allowEIO3.
    const v3 = await send(target, { query: { EIO: "3", transport: "polling" }, timeoutMs: opts.timeoutMs }).catch((e: Error) => e);
    let eio3 = "unknown";
    if (!(v3 instanceof Error)) {
      const err = engineError(v3);
      if (v3.status === 200) {
        eio3 = "accepted";
        const sid = /"sid":"([^"]+)"/.exec(v3.body)?.[1];
        if (sid) await send(target, { method: "POST", query: { EIO: "3", transport: "polling", sid }, body: "1:1", timeoutMs: 3000 }).catch(() => undefined);
      } else if (err?.code === 5) eio3 = "refused (unsupported protocol version)";
      else eio3 = `refused (${describe(v3)})`;
    }
    evidence.push(`EIO=3 (socket.io-client v2): ${eio3}`);
    const transports = ["polling", ...open.upgrades];
    const sioOk = sio.startsWith("Socket.IO protocol 5");
    if (!sioOk) {
      return fail("error", "Engine.IO handshake works but Socket.IO does not answer", evidence, "the endpoint is not a Socket.IO 3/4 server, or the proxy drops POST bodies", "versionMismatch", { ...open, transports, eio3 });
    }
    return pass(`Engine.IO 4 / Socket.IO 5; transports ${transports.join(", ")}; EIO3 ${eio3.split(" ")[0]}`, evidence, "handshake", { ...open, transports, eio3 });
  },
};

function openLine(open: { sid: string; upgrades: string[]; pingInterval: number; pingTimeout: number; maxPayload: number }): string {
  return `open packet: upgrades=[${open.upgrades.join(",")}] pingInterval=${open.pingInterval} ms pingTimeout=${open.pingTimeout} ms maxPayload=${open.maxPayload} bytes`;
}

/** Socket.IO CONNECT to "/" over one WebSocket (no affinity needed). */
async function socketIoOverWebSocket(target: Target, timeoutMs: number): Promise<string> {
  const ws = await openWebSocket(target, { EIO: "4", transport: "websocket" }, {}, timeoutMs);
  if (!ws.ok) return `no Socket.IO answer (WebSocket: ${ws.error})`;
  try {
    if (!parseOpen(await ws.first)) return "no Socket.IO answer (no open packet on the WebSocket)";
    ws.ws.send("40");
    const answer = await nextMessage(ws.ws, (m) => m.startsWith("40") || m.startsWith("44"), timeoutMs);
    if (answer?.startsWith("40")) return "Socket.IO protocol 5 (server 3.x/4.x): namespace / accepted the CONNECT (over WebSocket)";
    if (answer?.startsWith("44")) return `Socket.IO protocol 5 (server 3.x/4.x): namespace / refused the CONNECT (${answer.slice(2, 120)}) (over WebSocket)`;
    return "no Socket.IO answer over WebSocket";
  } finally {
    await closeWebSocket(ws.ws);
  }
}
