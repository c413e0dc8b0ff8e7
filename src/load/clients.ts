import { Agent } from "node:http";
import WebSocket from "ws";
import { io, type Socket } from "socket.io-client";
import type { ProtocolName, TransportKind } from "./options.js";

/** What a load client needs to know to connect. */
export interface ClientSpec {
  /** http(s)://host:port of the server. */
  url: string;
  protocol: ProtocolName;
  /** socket.io namespace (socketio only). */
  namespace: string;
  /** Engine.IO path (socketio) or WebSocket path (ws). */
  path: string;
  transport: TransportKind;
  /** Source address for the connection (loopback alias), or undefined for the OS default. */
  localAddress?: string;
  /** socket.io `auth` payload (socketio only). */
  auth?: Record<string, unknown>;
  /** Extra HTTP headers on the handshake. */
  headers?: Record<string, string>;
  timeoutMs: number;
}

export type Callback = (err?: Error) => void;

/**
 * One simulated user, whichever protocol it speaks. The demo contract: `join(room)` acks, `say(room, text)` makes the
 * server emit `message {room, text, from}` to the room, `echo(payload)` acks the payload back.
 */
export interface LoadClient {
  readonly transport: TransportKind;
  readonly connected: boolean;
  /** Calls back once connected (for `upgrade`: once upgraded to websocket) or with an error (message = error class). */
  connect(cb: Callback): void;
  join(room: string, cb: Callback): void;
  say(room: string, text: string): void;
  echo(payload: unknown, cb: Callback): void;
  /** Every `message` the server sends (its `text`). */
  onMessage(cb: (text: string) => void): void;
  /** A disconnect this side did not ask for. */
  onDrop(cb: (reason: string) => void): void;
  close(): void;
}

export function createClient(spec: ClientSpec): LoadClient {
  return spec.protocol === "ws" ? new RawWsClient(spec) : new SocketIoClient(spec);
}

/** A connect/ack failure with a short, aggregatable code (`timeout`, `connect_error: ...`, `upgrade_failed` ...). */
export class LoadClientError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function once(cb: Callback): Callback {
  let called = false;
  return (err) => {
    if (called) return;
    called = true;
    cb(err);
  };
}

class SocketIoClient implements LoadClient {
  readonly transport: TransportKind;
  readonly #spec: ClientSpec;
  #socket: Socket | undefined;
  #onMessage: ((text: string) => void) | undefined;
  #onDrop: ((reason: string) => void) | undefined;
  #closing = false;
  #ready = false;

  constructor(spec: ClientSpec) {
    this.#spec = spec;
    this.transport = spec.transport;
  }

  get connected(): boolean {
    return this.#ready && this.#socket?.connected === true;
  }

  connect(callback: Callback): void {
    const cb = once(callback);
    const spec = this.#spec;
    const transports = spec.transport === "websocket" ? ["websocket"] : ["polling", "websocket"];
    const base = spec.url.replace(/\/+$/, "");
    const socket = io(base + spec.namespace, {
      path: spec.path,
      transports,
      upgrade: spec.transport === "upgrade",
      forceNew: true,
      multiplex: false,
      reconnection: false,
      autoConnect: false,
      timeout: spec.timeoutMs,
      ...(spec.auth && Object.keys(spec.auth).length ? { auth: spec.auth } : {}),
      ...(spec.headers && Object.keys(spec.headers).length ? { extraHeaders: spec.headers } : {}),
      ...(spec.localAddress ? { localAddress: spec.localAddress, agent: new Agent({ localAddress: spec.localAddress, keepAlive: true }) } : {}),
    } as Parameters<typeof io>[1]);
    this.#socket = socket;
    this.#closing = false;
    this.#ready = false;
    const timer = setTimeout(() => {
      cb(new LoadClientError("timeout"));
      this.close();
    }, spec.timeoutMs);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      if (!err) this.#ready = true;
      cb(err);
    };
    socket.on("message", (msg: { text?: unknown }) => {
      if (this.#onMessage && msg && typeof msg.text === "string") this.#onMessage(msg.text);
    });
    socket.on("disconnect", (reason) => {
      const wasReady = this.#ready;
      this.#ready = false;
      if (!this.#closing && wasReady) this.#onDrop?.(reason);
      else if (!this.#closing) done(new LoadClientError(`disconnected: ${reason}`));
    });
    socket.on("connect_error", (err) => {
      done(new LoadClientError(`connect_error: ${err.message}`));
      this.close();
    });
    let upgraded = spec.transport !== "upgrade";
    let sioConnected = false;
    socket.on("connect", () => {
      sioConnected = true;
      if (upgraded) done();
    });
    socket.connect();
    if (!upgraded) {
      const engine = socket.io.engine;
      engine.once("upgrade", () => {
        upgraded = true;
        if (sioConnected) done();
      });
      engine.once("upgradeError", () => {
        done(new LoadClientError("upgrade_failed"));
        this.close();
      });
    }
  }

  join(room: string, callback: Callback): void {
    const cb = once(callback);
    const s = this.#socket;
    if (!s) return cb(new LoadClientError("not_connected"));
    s.timeout(this.#spec.timeoutMs).emit("join", room, (err: Error | null, res: { ok?: boolean; error?: { code?: string } }) => {
      if (err) return cb(new LoadClientError("ack_timeout"));
      if (!res || res.ok !== true) return cb(new LoadClientError(`join_refused: ${res?.error?.code ?? "unknown"}`));
      cb();
    });
  }

  say(room: string, text: string): void {
    this.#socket?.emit("say", { room, text });
  }

  echo(payload: unknown, callback: Callback): void {
    const s = this.#socket;
    if (!s) return callback(new LoadClientError("not_connected"));
    s.timeout(this.#spec.timeoutMs).emit("echo", payload, (err: Error | null) => {
      callback(err ? new LoadClientError("ack_timeout") : undefined);
    });
  }

  onMessage(cb: (text: string) => void): void {
    this.#onMessage = cb;
  }

  onDrop(cb: (reason: string) => void): void {
    this.#onDrop = cb;
  }

  close(): void {
    this.#closing = true;
    this.#ready = false;
    const s = this.#socket;
    this.#socket = undefined;
    if (s) {
      s.disconnect();
      s.removeAllListeners();
      s.io.removeAllListeners();
    }
  }
}

/** Frames of the raw ws bench protocol (bench/servers/raw-ws.ts). */
type RawIn = { t: "ack"; id: number; d?: unknown } | { t: "message"; d: { room: string; text: string; from: string } };

class RawWsClient implements LoadClient {
  readonly transport: TransportKind = "websocket";
  readonly #spec: ClientSpec;
  #ws: WebSocket | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { cb: Callback; timer: NodeJS.Timeout }>();
  #onMessage: ((text: string) => void) | undefined;
  #onDrop: ((reason: string) => void) | undefined;
  #closing = false;
  #ready = false;

  constructor(spec: ClientSpec) {
    this.#spec = spec;
  }

  get connected(): boolean {
    return this.#ready && this.#ws?.readyState === WebSocket.OPEN;
  }

  connect(callback: Callback): void {
    const cb = once(callback);
    const spec = this.#spec;
    const wsUrl = spec.url.replace(/^http/, "ws").replace(/\/+$/, "") + spec.path;
    const ws = new WebSocket(wsUrl, {
      perMessageDeflate: false,
      handshakeTimeout: spec.timeoutMs,
      ...(spec.headers && Object.keys(spec.headers).length ? { headers: spec.headers } : {}),
      ...(spec.localAddress ? { localAddress: spec.localAddress } : {}),
    });
    this.#ws = ws;
    this.#closing = false;
    this.#ready = false;
    ws.on("open", () => {
      this.#ready = true;
      cb();
    });
    ws.on("error", (err) => {
      if (!this.#ready) cb(new LoadClientError(`connect_error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    ws.on("close", (code) => {
      const wasReady = this.#ready;
      this.#ready = false;
      this.#failPending();
      if (!this.#closing && wasReady) this.#onDrop?.(`close ${code}`);
      else if (!this.#closing) cb(new LoadClientError(`closed: ${code}`));
    });
    ws.on("message", (data) => this.#handle(data.toString()));
  }

  #handle(raw: string): void {
    let msg: RawIn;
    try {
      msg = JSON.parse(raw) as RawIn;
    } catch {
      return;
    }
    if (msg.t === "message") {
      if (this.#onMessage && typeof msg.d?.text === "string") this.#onMessage(msg.d.text);
    } else if (msg.t === "ack") {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      const d = msg.d as { ok?: boolean; error?: { code?: string } } | undefined;
      if (d && typeof d === "object" && "error" in d && d.error) p.cb(new LoadClientError(`refused: ${d.error.code ?? "unknown"}`));
      else p.cb();
    }
  }

  #request(frame: Record<string, unknown>, cb: Callback): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return cb(new LoadClientError("not_connected"));
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      cb(new LoadClientError("ack_timeout"));
    }, this.#spec.timeoutMs);
    this.#pending.set(id, { cb, timer });
    ws.send(JSON.stringify({ ...frame, id }));
  }

  #failPending(): void {
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer);
      p.cb(new LoadClientError("disconnected"));
    }
    this.#pending.clear();
  }

  join(room: string, cb: Callback): void {
    this.#request({ t: "join", room }, cb);
  }

  say(room: string, text: string): void {
    const ws = this.#ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: "say", room, text }));
  }

  echo(payload: unknown, cb: Callback): void {
    this.#request({ t: "echo", d: payload }, cb);
  }

  onMessage(cb: (text: string) => void): void {
    this.#onMessage = cb;
  }

  onDrop(cb: (reason: string) => void): void {
    this.#onDrop = cb;
  }

  close(): void {
    this.#closing = true;
    this.#ready = false;
    this.#failPending();
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) {
      ws.removeAllListeners("open");
      ws.on("error", () => undefined);
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close();
    }
  }
}
