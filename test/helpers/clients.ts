import { io, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from "socket.io-client";
import { registerCloser } from "./cleanup.js";

export type { Socket as ClientSocket } from "socket.io-client";
export type ClientOptions = Partial<ManagerOptions & SocketOptions> & {
  /** How long to wait for connect (default 10 s). */
  connectTimeoutMs?: number;
  /** Called with the socket right after it is created, before it connects (attach early listeners here). */
  onCreate?: (socket: ClientSocket) => void;
};

/**
 * Connects an official socket.io-client (forceNew, reconnection off unless opts say so) and resolves on "connect".
 * Rejects on connect_error (with the error: message, and data/description/context as socket.io gives them) or timeout;
 * the socket is closed in that case. Connected sockets are closed by useCleanup() at the end of the file.
 */
export function connectClient(url: string, opts: ClientOptions = {}): Promise<ClientSocket> {
  const { connectTimeoutMs = 10_000, onCreate, ...rest } = opts;
  const socket = io(url, { forceNew: true, reconnection: false, timeout: connectTimeoutMs, ...rest });
  onCreate?.(socket);
  const unregister = registerCloser(() => socket.disconnect());
  return new Promise<ClientSocket>((resolve, reject) => {
    const cleanupListeners = (): void => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    const onConnect = (): void => {
      cleanupListeners();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      // with reconnection on, the manager retries: keep waiting until the timeout
      if (socket.io.opts.reconnection && (socket as unknown as { active: boolean }).active) return;
      cleanupListeners();
      socket.disconnect();
      unregister();
      reject(err);
    };
    const timer = setTimeout(() => {
      cleanupListeners();
      socket.disconnect();
      unregister();
      reject(new Error(`connectClient: no connect to ${url} within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs + 1000);
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** Connects n clients (at most `concurrency` handshakes at once, default 20). Rejects (closing all) if any fails. */
export async function connectMany(n: number, url: string, opts: ClientOptions = {}, { concurrency = 20 }: { concurrency?: number } = {}): Promise<ClientSocket[]> {
  const sockets: ClientSocket[] = new Array<ClientSocket>(n);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < n) {
      const i = next++;
      try {
        sockets[i] = await connectClient(url, opts);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  if (failed !== undefined) {
    for (const s of sockets) s?.disconnect();
    throw failed;
  }
  return sockets;
}

/** Emits with an ack and resolves with the ack's arguments (first one); rejects after timeoutMs (default 5 s). */
export async function emitWithAck<T = unknown>(socket: ClientSocket, event: string, ...args: unknown[]): Promise<T> {
  return (await socket.timeout(5000).emitWithAck(event, ...args)) as T;
}

/** The Engine.IO transport a client is on now ("polling" | "websocket" | "webtransport"). */
export function transportName(socket: ClientSocket): string {
  return socket.io.engine.transport.name;
}
