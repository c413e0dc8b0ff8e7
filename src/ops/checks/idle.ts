import { closePolling, closeWebSocket, describe, engineError, openPolling, openWebSocket, parseOpen, poll, postPackets, round, splitPayload, type Target } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";

/** What happened to the quiet connection. */
interface IdleTimeline {
  transport: "websocket" | "polling";
  pingsAt: number[];
  /** Seconds from open to the cut, or undefined when it was still open at idle-max. */
  closedAt?: number;
  /** Who closed: the server (close frame / engine packet) or a hop in between (no close frame, 502/504, reset). */
  closedBy?: "server" | "proxy";
  detail: string;
}

const IDLE_FIX =
  "raise the proxy/load-balancer idle timeout above pingInterval + pingTimeout (nginx: proxy_read_timeout 120s; ingress-nginx: nginx.ingress.kubernetes.io/proxy-read-timeout: \"120\"; AWS ALB: idle timeout 120 s), or lower engine.pingInterval below it";

/**
 * idle-timeout: holds a quiet connection through the proxy (a raw Engine.IO connection whose client never answers
 * the server's pings and sends nothing) for at most --idle-max, and reports at what second it was cut and by whom.
 * A hop that cuts it before the server's first ping (pingInterval) disconnects every idle client of a real
 * deployment; a connection that lasts until the server itself gives up (pingInterval + pingTimeout) is healthy.
 */
export const idleCheck: Check = {
  name: "idle-timeout",
  async run({ opts, facts }) {
    if (!facts.open) return skip("skipped: no handshake", [], "disconnects");
    const pi = facts.open.pingInterval / 1000;
    const pt = facts.open.pingTimeout / 1000;
    const useWs = facts.websocket === true || facts.polling === false;
    const tl = useWs ? await holdWebSocket(opts.target, opts.idleMaxMs, opts.timeoutMs) : await holdPolling(opts.target, opts.idleMaxMs, opts.timeoutMs);
    if (typeof tl === "string") return skip(`skipped: ${tl}`, [], "disconnects");
    const idleMax = opts.idleMaxMs / 1000;
    const evidence = [
      `held a quiet ${tl.transport} connection (no pongs, no messages) for up to ${idleMax} s`,
      `server pings seen at: ${tl.pingsAt.length ? tl.pingsAt.map((t) => `${t} s`).join(", ") : "none"}`,
      tl.closedAt === undefined ? `still open at ${idleMax} s` : `closed at ${tl.closedAt} s by the ${tl.closedBy}: ${tl.detail}`,
      `server heartbeat: pingInterval ${pi} s + pingTimeout ${pt} s = ${round(pi + pt)} s`,
    ];
    const data = { transport: tl.transport, closedAtS: tl.closedAt ?? null, closedBy: tl.closedBy ?? null, pingsAtS: tl.pingsAt, pingIntervalS: pi, pingTimeoutS: pt, idleMaxS: idleMax };
    if (tl.closedAt !== undefined && tl.closedBy === "proxy") {
      if (tl.pingsAt.length === 0) {
        return fail(
          "error",
          `the proxy cut a quiet connection after ${tl.closedAt} s, before the server's first ping at ${pi} s: idle clients are disconnected every ~${tl.closedAt} s`,
          evidence,
          IDLE_FIX,
          "disconnects",
          data,
        );
      }
      if (tl.closedAt < pi + pt - 1) {
        return fail("warn", `the proxy cut the connection after ${tl.closedAt} s although the server pinged: an absolute or one-way idle timer`, evidence, IDLE_FIX, "disconnects", data);
      }
    }
    if (tl.closedAt !== undefined && tl.closedBy === "server" && tl.pingsAt.length === 0) {
      return fail("warn", `the server closed the quiet connection after ${tl.closedAt} s before any ping (connectTimeout or a drain?)`, evidence, "check engine.connectTimeout and the server logs", "disconnects", data);
    }
    if (tl.closedAt === undefined && tl.pingsAt.length === 0) {
      return fail("warn", `inconclusive: --idle-max (${idleMax} s) ended before the server's first ping (${pi} s)`, evidence, `run again with --idle-max ${Math.ceil(pi + pt + 5)}`, "disconnects", data);
    }
    return pass(
      tl.closedAt === undefined
        ? `no hop cut the quiet connection within ${idleMax} s (server pings keep it alive)`
        : `the quiet connection lasted until the server's own heartbeat timeout (${tl.closedAt} s): the proxy idle timeout exceeds pingInterval`,
      evidence,
      "disconnects",
      data,
    );
  },
};

async function holdWebSocket(target: Target, idleMaxMs: number, timeoutMs: number): Promise<IdleTimeline | string> {
  const opened = await openWebSocket(target, { EIO: "4", transport: "websocket" }, {}, timeoutMs);
  if (!opened.ok) return `WebSocket refused (${opened.error})`;
  const { ws } = opened;
  const first = await opened.first;
  if (!parseOpen(first)) {
    await closeWebSocket(ws);
    return "no Engine.IO open packet on the WebSocket";
  }
  const t0 = performance.now();
  const at = (): number => round((performance.now() - t0) / 1000);
  // join the main namespace so socket.io's connectTimeout does not close the connection first
  ws.send("40");
  const pingsAt: number[] = [];
  return new Promise<IdleTimeline>((resolve) => {
    const finish = (tl: IdleTimeline): void => {
      clearTimeout(timer);
      ws.removeAllListeners("message");
      resolve(tl);
    };
    ws.on("message", (d) => {
      if (d.toString() === "2") pingsAt.push(at());
    });
    ws.once("close", (code, reason) => {
      const frame = code !== 1006;
      finish({
        transport: "websocket",
        pingsAt,
        closedAt: at(),
        closedBy: frame ? "server" : "proxy",
        detail: frame ? `close frame ${code}${reason.length ? ` ${reason.toString()}` : ""}` : "TCP closed without a WebSocket close frame (1006)",
      });
    });
    ws.on("error", () => undefined);
    const timer = setTimeout(() => {
      finish({ transport: "websocket", pingsAt, detail: "" });
      void closeWebSocket(ws);
    }, idleMaxMs);
  });
}

async function holdPolling(target: Target, idleMaxMs: number, timeoutMs: number): Promise<IdleTimeline | string> {
  const opened = await openPolling(target, {}, timeoutMs);
  if (!opened.ok) return `no polling handshake (${opened.error})`;
  const s = opened.session;
  await postPackets(target, s, ["40"], timeoutMs).catch(() => undefined);
  await poll(target, s, timeoutMs).catch(() => undefined); // the CONNECT answer
  const t0 = performance.now();
  const at = (): number => round((performance.now() - t0) / 1000);
  const pingsAt: number[] = [];
  for (;;) {
    const left = idleMaxMs - (performance.now() - t0);
    if (left <= 0) break;
    const res = await poll(target, s, left).catch((e: Error & { code?: string }) => e);
    if (res instanceof Error) {
      if ((res as { code?: string }).code === "timeout") break;
      return { transport: "polling", pingsAt, closedAt: at(), closedBy: "proxy", detail: `long-poll failed: ${res.message}` };
    }
    if (res.status !== 200) {
      const byEngine = engineError(res) !== undefined;
      return { transport: "polling", pingsAt, closedAt: at(), closedBy: byEngine ? "server" : "proxy", detail: `long-poll answered ${describe(res)}` };
    }
    const packets = splitPayload(res.body);
    if (packets.includes("2")) pingsAt.push(at());
    if (packets.includes("1")) return { transport: "polling", pingsAt, closedAt: at(), closedBy: "server", detail: "engine close packet" };
  }
  await closePolling(target, s);
  return { transport: "polling", pingsAt, detail: "" };
}
