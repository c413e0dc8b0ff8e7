import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import WebSocket from "ws";

/**
 * A tiny, protocol-accurate Engine.IO v4 probe client for the operator tools (doctor, canary).
 * Unlike socket.io-client it exposes every wire detail the diagnosis needs: HTTP status and headers, timing, the raw
 * packets, and it can open each request on a fresh TCP connection (to see what a load balancer does per connection).
 */

/** Where the deployment is: base URL (scheme, host, port) plus the Engine.IO path. */
export interface Target {
  base: URL;
  /** Engine.IO path, e.g. "/socket.io/". */
  path: string;
  /** Accept certificates that do not verify (self-signed, wrong host). */
  insecure: boolean;
  /** Extra CA certificates (PEM) to trust. */
  ca?: string | Buffer;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds from sending the request to the end of the response body. */
  ms: number;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "OPTIONS";
  query?: Record<string, string>;
  body?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Called with (ms since request start, chunk) for each body chunk, for timing analysis. */
  onChunk?: (ms: number, chunk: string) => void;
}

/** The URL of the Engine.IO endpoint with the given query. */
export function engineUrl(target: Target, query: Record<string, string>, ws = false): URL {
  const u = new URL(target.path, target.base);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  if (ws) u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u;
}

/** Thrown when no HTTP response came back (refused, reset, timeout). */
export class ProbeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * One HTTP request on a FRESH TCP connection (no keep-alive agent, `Connection: close`), so a load balancer routes
 * each request on its own, as it does for browsers behind different connections.
 */
export function send(target: Target, opts: RequestOptions = {}): Promise<HttpResult> {
  const url = engineUrl(target, opts.query ?? {});
  const isHttps = url.protocol === "https:";
  const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
  const headers: Record<string, string> = { connection: "close", "accept-encoding": "identity", ...opts.headers };
  if (body) {
    headers["content-type"] ??= "text/plain;charset=UTF-8";
    headers["content-length"] = String(body.length);
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<HttpResult>((resolve, reject) => {
    const started = performance.now();
    const req = (isHttps ? httpsRequest : httpRequest)(
      url,
      {
        method: opts.method ?? "GET",
        headers,
        agent: false,
        ...(isHttps ? { rejectUnauthorized: !target.insecure, ...(target.ca ? { ca: target.ca } : {}) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          opts.onChunk?.(performance.now() - started, c.toString("utf8"));
        });
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started });
        });
        res.on("error", (err) => {
          clearTimeout(timer);
          reject(new ProbeError(`response aborted after ${Math.round(performance.now() - started)} ms: ${err.message}`, "aborted"));
        });
        res.on("aborted", () => {
          clearTimeout(timer);
          reject(new ProbeError(`connection closed mid-response after ${Math.round(performance.now() - started)} ms`, "aborted"));
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new ProbeError(`no response within ${timeoutMs} ms`, "timeout"));
    }, timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err instanceof ProbeError ? err : new ProbeError(err.message, err.code ?? "error"));
    });
    req.end(body);
  });
}

/** Engine.IO v4 packet types by their one-character code. */
export const PACKET = { open: "0", close: "1", ping: "2", pong: "3", message: "4", upgrade: "5", noop: "6" } as const;

/** Splits a v4 polling payload into packets (record separator 0x1e). */
export function splitPayload(body: string): string[] {
  return body.length === 0 ? [] : body.split("\x1e");
}

/** The fields of the Engine.IO open packet. */
export interface OpenPacket {
  sid: string;
  upgrades: string[];
  pingInterval: number;
  pingTimeout: number;
  maxPayload: number;
}

export function parseOpen(packet: string | undefined): OpenPacket | undefined {
  if (!packet || packet[0] !== PACKET.open) return undefined;
  try {
    const o = JSON.parse(packet.slice(1)) as Partial<OpenPacket>;
    if (typeof o.sid !== "string") return undefined;
    return {
      sid: o.sid,
      upgrades: Array.isArray(o.upgrades) ? o.upgrades.map(String) : [],
      pingInterval: Number(o.pingInterval ?? 0),
      pingTimeout: Number(o.pingTimeout ?? 0),
      maxPayload: Number(o.maxPayload ?? 0),
    };
  } catch {
    return undefined;
  }
}

/** Engine.IO's JSON error body ({ code, message }) when the response is one. Code 1 = unknown session. */
export function engineError(res: HttpResult): { code: number; message: string } | undefined {
  if (res.status < 400) return undefined;
  try {
    const o = JSON.parse(res.body) as { code?: unknown; message?: unknown };
    if (typeof o.code === "number") return { code: o.code, message: String(o.message ?? "") };
  } catch {
    // not engine.io's error body (a proxy page, for instance)
  }
  return undefined;
}

export const ENGINE_ERRORS: Record<number, string> = {
  0: "Transport unknown",
  1: "Session ID unknown",
  2: "Bad handshake method",
  3: "Bad request",
  4: "Forbidden",
  5: "Unsupported protocol version",
};

/** One-line description of a response for evidence: status, who answered, and a short body. */
export function describe(res: HttpResult): string {
  const err = engineError(res);
  const server = res.headers.server ? ` (server: ${String(res.headers.server)})` : "";
  if (err) return `HTTP ${res.status} engine.io error ${err.code} "${err.message}"${server}`;
  const text = res.body.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 80);
  return `HTTP ${res.status}${server}${text ? `: ${text}` : ""}`;
}

/** A polling session opened by `openPolling`. */
export interface PollingSession {
  open: OpenPacket;
  res: HttpResult;
  /** Cookies the handshake set (sent back on every request, as a browser would). */
  cookie: string | undefined;
}

export type PollingOutcome = { ok: true; session: PollingSession } | { ok: false; res?: HttpResult; error: string };

/** Polling handshake: GET ?EIO=4&transport=polling. */
export async function openPolling(target: Target, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<PollingOutcome> {
  let res: HttpResult;
  try {
    res = await send(target, { query: { EIO: "4", transport: "polling" }, headers, timeoutMs });
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  const open = res.status === 200 ? parseOpen(splitPayload(res.body)[0]) : undefined;
  if (!open) return { ok: false, res, error: describe(res) };
  return { ok: true, session: { open, res, cookie: cookieHeader(res.headers) } };
}

/** Request options for a request inside a polling session (sid, t, cookies). */
export function sessionQuery(s: PollingSession): Record<string, string> {
  return { EIO: "4", transport: "polling", sid: s.open.sid };
}

export function sessionHeaders(s: PollingSession, extra: Record<string, string> = {}): Record<string, string> {
  return s.cookie ? { cookie: s.cookie, ...extra } : { ...extra };
}

/** POSTs packets (joined with the record separator) into a polling session. */
export function postPackets(target: Target, s: PollingSession, packets: string[], timeoutMs = 10_000): Promise<HttpResult> {
  return send(target, { method: "POST", query: sessionQuery(s), headers: sessionHeaders(s), body: packets.join("\x1e"), timeoutMs });
}

/** GET poll in a polling session. */
export function poll(target: Target, s: PollingSession, timeoutMs = 10_000): Promise<HttpResult> {
  return send(target, { query: sessionQuery(s), headers: sessionHeaders(s), timeoutMs });
}

/** Closes a polling session (best effort). */
export async function closePolling(target: Target, s: PollingSession): Promise<void> {
  await postPackets(target, s, [PACKET.close], 3000).catch(() => undefined);
}

function cookieHeader(headers: IncomingHttpHeaders): string | undefined {
  const set = headers["set-cookie"];
  if (!set || set.length === 0) return undefined;
  return set.map((c) => c.split(";")[0]!.trim()).join("; ");
}

/** What happened to a WebSocket attempt. */
export type WsOutcome =
  | { ok: true; ws: WebSocket; ms: number; headers: IncomingHttpHeaders; first: Promise<string | undefined> }
  | { ok: false; error: string; status?: number; res?: HttpResult };

/**
 * Opens a WebSocket to the engine path. On a non-101 answer the status, headers and body are captured, since they
 * tell which hop refused the upgrade.
 */
export function openWebSocket(target: Target, query: Record<string, string>, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<WsOutcome> {
  const url = engineUrl(target, query, true);
  const started = performance.now();
  return new Promise<WsOutcome>((resolve) => {
    let settled = false;
    const done = (o: WsOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
      ...(url.protocol === "wss:" ? { rejectUnauthorized: !target.insecure, ...(target.ca ? { ca: target.ca } : {}) } : {}),
    });
    const timer = setTimeout(() => {
      ws.terminate();
      done({ ok: false, error: `no WebSocket handshake answer within ${timeoutMs} ms` });
    }, timeoutMs + 500);
    // The server's first packet (Engine.IO open) can arrive in the same read as the 101: capture it from the start.
    const first = new Promise<string | undefined>((res) => {
      const t = setTimeout(() => res(undefined), timeoutMs + 500);
      ws.once("message", (d, isBinary) => {
        clearTimeout(t);
        res(isBinary ? undefined : d.toString());
      });
      ws.once("close", () => {
        clearTimeout(t);
        res(undefined);
      });
    });
    ws.once("upgrade", (res) => {
      ws.once("open", () => done({ ok: true, ws, ms: performance.now() - started, headers: res.headers, first }));
    });
    let refused = false;
    ws.once("unexpected-response", (req, res) => {
      refused = true;
      const chunks: Buffer[] = [];
      const finish = (): void => {
        const r: HttpResult = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started };
        done({ ok: false, status: r.status, res: r, error: `${describe(r)} instead of 101 Switching Protocols` });
        req.destroy();
      };
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", finish);
      res.on("close", finish);
      res.on("error", finish);
    });
    ws.on("error", (err) => {
      if (!refused) done({ ok: false, error: err.message });
    });
  });
}

/** Resolves with the next text message on the socket matching `pred`, or undefined on timeout/close. */
export function nextMessage(ws: WebSocket, pred: (m: string) => boolean, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const finish = (v: string | undefined): void => {
      clearTimeout(timer);
      ws.off("message", onMessage);
      ws.off("close", onClose);
      resolve(v);
    };
    const onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
      const text = isBinary ? "" : data.toString();
      if (pred(text)) finish(text);
    };
    const onClose = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    ws.on("message", onMessage);
    ws.on("close", onClose);
  });
}

/** Closes a WebSocket and waits (bounded) for it to be gone. */
export function closeWebSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 1000);
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close();
  });
}

/** p-th percentile (0..100) of a list of numbers (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export const round = (ms: number, digits = 1): number => Math.round(ms * 10 ** digits) / 10 ** digits;
