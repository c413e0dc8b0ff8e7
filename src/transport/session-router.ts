import { Agent, createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server as HttpServer, type ServerResponse } from "node:http";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Counter, Gauge, Histogram } from "prom-client";
import type { PylonContext } from "../server/module.js";
import type { Logger } from "../observability/logger.js";
import { SessionIdPool, ownerOf, sidOf } from "./session-router-ids.js";
import { PollHandoff } from "./session-router-handoff.js";

/** Where a node is reached for forwarding (from the node registry); undefined when it is not (or no longer) live. */
export interface OwnerDirectory {
  addressOf(nodeId: string): Promise<string | undefined>;
  /** Forget a cached address (after it could not be reached). */
  forget(nodeId: string): void;
}

export interface SessionRouterOptions {
  nodeId: string;
  /** Forward foreign sessions (false: they get the unknown-session error, as socket.io without affinity). */
  forwarding: boolean;
  /** Connect timeout towards the owner (ms). */
  timeoutMs: number;
  /** Extra private listener "HOST:PORT" (port 0 = any) that other nodes forward to; "" for none. */
  forwardListen: string;
  directory: OwnerDirectory;
}

/** Marks a request as already forwarded once, so it is never forwarded again (no loops). */
export const FORWARDED_HEADER = "x-pylon-forwarded-by";

/** Engine.IO's own answer for an unknown session (engine.io Server.errors.UNKNOWN_SID): clients reconnect on it. */
const UNKNOWN_SID_BODY = JSON.stringify({ code: 1, message: "Session ID unknown" });

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

interface RouterMetrics {
  forwards: Counter<"kind" | "outcome">;
  refused: Counter<"reason">;
  postSeconds: Histogram;
  tunnels: Gauge;
  handoffs: Counter;
}

/**
 * Sticky-free sessions. Session ids embed the owning node; a polling request or WebSocket upgrade carrying a
 * foreign sid is served by its owner: HTTP requests are proxied, upgrades are piped byte for byte, to the owner's
 * advertised address from the node registry. An owner that is unknown or unreachable yields engine.io's standard
 * unknown-session error (HTTP 400, code 1), on which official clients reconnect.
 */
export class SessionRouter {
  readonly #opts: SessionRouterOptions;
  readonly #agent = new Agent({ keepAlive: true, maxFreeSockets: 256 });
  readonly #tunnels = new Set<Duplex>();
  readonly #disposers: (() => void)[] = [];
  #metrics!: RouterMetrics;
  #logger!: Logger;
  #listener: HttpServer | undefined;
  #listenAddress: string | undefined;
  #closed = false;
  readonly #handoff: PollHandoff;

  constructor(options: SessionRouterOptions) {
    this.#opts = options;
    this.#handoff = new PollHandoff(options.timeoutMs);
  }

  setup(ctx: PylonContext): void {
    this.#logger = ctx.logger;
    const m = ctx.metrics;
    this.#metrics = {
      forwards: m.counter({ name: "session_forwards_total", help: "Requests for sessions owned by another node, forwarded to it, by kind (polling|upgrade) and outcome", labelNames: ["kind", "outcome"] }),
      refused: m.counter({ name: "session_foreign_refused_total", help: "Requests for sessions owned by another node that were not forwarded (unknown-session error), by reason", labelNames: ["reason"] }),
      postSeconds: m.histogram({
        name: "session_forward_post_seconds",
        help: "Round trip of forwarded polling POSTs through the owner node (what forwarding costs per request)",
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      }),
      handoffs: m.counter({ name: "session_poll_handoffs_total", help: "Long-poll GETs retried after the node forwarding the previous one went away, answered in its place" }),
      tunnels: m.gauge({ name: "session_forward_tunnels", help: "Open WebSocket connections piped to their owner node" }),
    };
    const nodeId = this.#opts.nodeId;
    const ids = new SessionIdPool();
    ctx.io.engine.generateId = () => ids.next(nodeId);
    this.#disposers.push(
      ctx.gate.onEngineRequest((req, res) => this.#onRequest(req, res)),
      ctx.gate.onUpgrade((req, socket, head) => this.#onUpgrade(req, socket, head)),
    );
    if (this.#opts.forwardListen) {
      const listener = createServer({ keepAlive: true });
      listener.on("request", (req, res) => ctx.httpServer.emit("request", req, res));
      listener.on("upgrade", (req, socket, head) => ctx.httpServer.emit("upgrade", req, socket, head));
      this.#listener = listener;
    }
  }

  /** Starts the private forwarding listener, if configured. */
  async start(): Promise<void> {
    const listener = this.#listener;
    if (!listener) return;
    const i = this.#opts.forwardListen.lastIndexOf(":");
    const host = this.#opts.forwardListen.slice(0, i);
    const port = Number(this.#opts.forwardListen.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      // exclusive: a node:cluster worker binds its own port instead of sharing the primary's handle
      listener.listen({ host, port, exclusive: true }, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    const a = listener.address() as AddressInfo;
    this.#listenAddress = `${a.address.includes(":") ? `[${a.address}]` : a.address}:${a.port}`;
    this.#logger.info({ address: this.#listenAddress }, "session forwarding listener ready");
  }

  /** The private listener's address once started ("" without one). */
  get listenAddress(): string {
    return this.#listenAddress ?? "";
  }

  /** Which node owns a request's session, when it is not this one and the request should go there. */
  #foreignOwner(req: IncomingMessage, sid = sidOf(req.url)): string | undefined {
    if (!sid) return undefined;
    const owner = ownerOf(sid);
    if (!owner || owner === this.#opts.nodeId) return undefined;
    if (!this.#opts.forwarding) {
      this.#metrics.refused.inc({ reason: "forwarding_disabled" });
      return undefined; // engine.io answers: unknown session
    }
    if (req.headers[FORWARDED_HEADER]) {
      this.#metrics.refused.inc({ reason: "already_forwarded" });
      return undefined;
    }
    return owner;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#closed) return false;
    const sid = sidOf(req.url);
    if (req.method === "GET" && this.#opts.forwarding) {
      if (sid && ownerOf(sid) === this.#opts.nodeId && this.#handoff.onLocalPoll(sid, req, res, req.headers[FORWARDED_HEADER] !== undefined)) {
        this.#metrics.handoffs.inc();
        return true;
      }
    }
    const owner = this.#foreignOwner(req, sid);
    if (!owner) return false;
    this.#forwardRequest(req, res, owner).catch((err: unknown) => {
      this.#logger.warn({ err, owner }, "session forwarding failed");
      if (!res.headersSent) unknownSession(res);
      else res.destroy();
    });
    return true;
  }

  async #forwardRequest(req: IncomingMessage, res: ServerResponse, owner: string): Promise<void> {
    const address = await this.#opts.directory.addressOf(owner);
    if (!address) {
      this.#metrics.forwards.inc({ kind: "polling", outcome: "owner_unknown" });
      req.resume();
      return unknownSession(res);
    }
    const { host, port } = splitAddress(address);
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    headers[FORWARDED_HEADER] = this.#opts.nodeId;
    if (req.headers["transfer-encoding"]) headers["transfer-encoding"] = req.headers["transfer-encoding"];
    const started = process.hrtime.bigint();
    const isPost = req.method === "POST";
    await new Promise<void>((resolve) => {
      let settled = false;
      const upstream = httpRequest({ host, port, method: req.method, path: req.url, headers, agent: this.#agent });
      const fail = (outcome: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#metrics.forwards.inc({ kind: "polling", outcome });
        this.#opts.directory.forget(owner);
        upstream.destroy();
        if (!res.headersSent) unknownSession(res);
        else res.destroy();
        resolve();
      };
      const timer = setTimeout(() => fail("timeout"), this.#opts.timeoutMs);
      upstream.on("socket", (s: Socket) => {
        if (!s.connecting) clearTimeout(timer);
        else s.once("connect", () => clearTimeout(timer));
      });
      upstream.on("error", () => fail("owner_unreachable"));
      upstream.on("response", (up) => {
        if (settled) return up.resume();
        settled = true;
        clearTimeout(timer);
        this.#metrics.forwards.inc({ kind: "polling", outcome: "ok" });
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
        up.once("end", () => {
          if (isPost) this.#metrics.postSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
          resolve();
        });
        up.once("error", () => {
          res.destroy();
          resolve();
        });
      });
      // the client went away (aborted long-poll): tell the owner, as a direct connection would
      res.once("close", () => {
        if (!res.writableFinished) {
          upstream.destroy();
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            this.#metrics.forwards.inc({ kind: "polling", outcome: "client_aborted" });
            resolve();
          }
        }
      });
      req.pipe(upstream);
    });
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (this.#closed) return false;
    const owner = this.#foreignOwner(req);
    if (!owner) return false;
    this.#pipeUpgrade(req, socket, head, owner).catch((err: unknown) => {
      this.#logger.warn({ err, owner }, "session upgrade forwarding failed");
      abortUpgrade(socket);
    });
    return true;
  }

  async #pipeUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, owner: string): Promise<void> {
    const address = await this.#opts.directory.addressOf(owner);
    if (!address || client.destroyed) {
      this.#metrics.forwards.inc({ kind: "upgrade", outcome: "owner_unknown" });
      return abortUpgrade(client);
    }
    const { host, port } = splitAddress(address);
    const upstream = netConnect({ host, port });
    upstream.setNoDelay(true);
    const timer = setTimeout(() => upstream.destroy(new Error("connect timeout")), this.#opts.timeoutMs);
    let open = false;
    upstream.once("connect", () => {
      clearTimeout(timer);
      open = true;
      this.#metrics.forwards.inc({ kind: "upgrade", outcome: "ok" });
      this.#metrics.tunnels.inc();
      this.#tunnels.add(client);
      let text = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i]!.toLowerCase() !== FORWARDED_HEADER) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      }
      text += `${FORWARDED_HEADER}: ${this.#opts.nodeId}\r\n\r\n`;
      upstream.write(text);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    let refused = false;
    const teardown = (): void => {
      clearTimeout(timer);
      if (open) {
        open = false;
        this.#tunnels.delete(client);
        this.#metrics.tunnels.dec();
      }
      upstream.destroy();
      if (!refused) client.destroy();
    };
    upstream.once("error", () => {
      if (!open && !refused) {
        refused = true;
        this.#metrics.forwards.inc({ kind: "upgrade", outcome: "owner_unreachable" });
        this.#opts.directory.forget(owner);
        abortUpgrade(client);
      }
      teardown();
    });
    upstream.once("close", teardown);
    client.once("error", teardown);
    client.once("close", teardown);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const d of this.#disposers.splice(0)) d();
    this.#handoff.close();
    for (const t of this.#tunnels) t.destroy();
    this.#tunnels.clear();
    this.#agent.destroy();
    const listener = this.#listener;
    this.#listener = undefined;
    if (!listener) return Promise.resolve();
    return new Promise((resolve) => {
      listener.close(() => resolve());
      listener.closeAllConnections();
    });
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(i + 1)) };
}

function unknownSession(res: ServerResponse): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(400, { "content-type": "application/json" });
  res.end(UNKNOWN_SID_BODY);
}

function abortUpgrade(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(UNKNOWN_SID_BODY)}\r\n\r\n${UNKNOWN_SID_BODY}`,
  );
}
