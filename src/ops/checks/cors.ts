import { closePolling, closeWebSocket, describe, engineError, openPolling, openWebSocket, type HttpResult, type Target } from "../eio.js";
import { fail, pass, skip, type Check } from "../finding.js";

/** An origin no deployment should allow. */
export const FOREIGN_ORIGIN = "https://pylon-doctor.invalid";

/**
 * cors: a handshake from a foreign Origin must be refused (else any website can open sockets with the visitor's
 * cookies: cross-site WebSocket hijacking); with --origin, the application's own origin must be accepted with a
 * matching Access-Control-Allow-Origin (else browsers on it cannot connect).
 */
export const corsCheck: Check = {
  name: "cors-origin",
  async run({ opts, facts }) {
    if (!facts.open) return skip("skipped: no handshake", [], "cors");
    const { target } = opts;
    const evidence: string[] = [];
    const foreign = await tryOrigin(target, FOREIGN_ORIGIN, facts.polling !== false, opts.timeoutMs);
    evidence.push(`foreign origin ${FOREIGN_ORIGIN}: ${foreign.detail}`);
    let own: Awaited<ReturnType<typeof tryOrigin>> | undefined;
    if (opts.origin) {
      own = await tryOrigin(target, opts.origin, facts.polling !== false, opts.timeoutMs);
      evidence.push(`application origin ${opts.origin}: ${own.detail}`);
    }
    const data = { foreignAccepted: foreign.accepted, foreignAcao: foreign.acao ?? null, ownAccepted: own?.accepted ?? null, ownAcao: own?.acao ?? null };
    if (own && (!own.accepted || (facts.polling !== false && own.acao !== opts.origin && own.acao !== "*"))) {
      return fail(
        "error",
        `browsers on ${opts.origin} cannot connect: the origin is ${own.accepted ? "accepted but not echoed in Access-Control-Allow-Origin" : "refused"}`,
        evidence,
        `add ${opts.origin} to engine.corsOrigins (PYLON_ENGINE_CORS_ORIGINS) and make the proxy pass the Origin header and the CORS response headers`,
        "cors",
        data,
      );
    }
    if (foreign.accepted) {
      return fail(
        "warn",
        `any website can connect: a handshake from ${FOREIGN_ORIGIN} was accepted${foreign.acao ? ` (Access-Control-Allow-Origin: ${foreign.acao})` : ""}`,
        evidence,
        "list the real application origins in engine.corsOrigins instead of * (and never reflect any Origin with credentials)",
        "cors",
        data,
      );
    }
    return pass(opts.origin ? `foreign origins refused; ${opts.origin} accepted` : "foreign origins are refused (pass --origin to check your app's origin)", evidence, "cors", data);
  },
};

async function tryOrigin(target: Target, origin: string, polling: boolean, timeoutMs: number): Promise<{ accepted: boolean; acao?: string; detail: string }> {
  if (polling) {
    const opened = await openPolling(target, { origin }, timeoutMs);
    if (opened.ok) {
      await closePolling(target, opened.session);
      const acao = header(opened.session.res, "access-control-allow-origin");
      return { accepted: true, ...(acao ? { acao } : {}), detail: `handshake accepted (HTTP 200, Access-Control-Allow-Origin: ${acao ?? "absent"})` };
    }
    const err = opened.res ? engineError(opened.res) : undefined;
    return { accepted: false, detail: `refused: ${opened.res ? describe(opened.res) : opened.error}${err?.code === 4 ? " (Forbidden)" : ""}` };
  }
  const ws = await openWebSocket(target, { EIO: "4", transport: "websocket" }, { origin }, timeoutMs);
  if (!ws.ok) return { accepted: false, detail: `WebSocket refused: ${ws.error}` };
  await closeWebSocket(ws.ws);
  return { accepted: true, detail: "WebSocket handshake accepted" };
}

function header(res: HttpResult, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

