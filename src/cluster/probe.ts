import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

/** One publish/subscribe round trip through the backplane. Resolves with nothing, rejects on failure or timeout. */
export interface BackplaneProbe {
  roundTrip(timeoutMs: number): Promise<void>;
  close(): void;
}

/** Round trips for probes in flight, keyed by token; settled by the transport's echo. */
class PendingProbes {
  readonly #pending = new Map<string, { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  add(timeoutMs: number, send: (token: string) => void | Promise<void>): Promise<void> {
    const token = randomBytes(6).toString("hex");
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(token, new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
      this.#pending.set(token, { resolve, reject, timer });
      Promise.resolve()
        .then(() => send(token))
        .catch((err: unknown) => this.settle(token, err as Error));
    });
  }

  settle(token: string, err?: Error): void {
    const p = this.#pending.get(token);
    if (!p) return;
    this.#pending.delete(token);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve();
  }

  close(): void {
    for (const token of [...this.#pending.keys()]) this.settle(token, new Error("closed"));
  }
}

/** Redis: PUBLISH on the publisher connection, received by the subscriber connection the adapter uses. */
export function redisProbe(pub: Redis, sub: Redis, channel: string): BackplaneProbe {
  const pending = new PendingProbes();
  const onMessage = (ch: Buffer, msg: Buffer): void => {
    if (ch.toString() === channel) pending.settle(msg.toString());
  };
  sub.on("messageBuffer", onMessage);
  void sub.subscribe(channel);
  return {
    roundTrip: (timeoutMs) =>
      pending.add(timeoutMs, async (token) => {
        if (pub.status !== "ready") throw new Error(`redis publisher ${pub.status}`);
        const receivers = await pub.publish(channel, token);
        if (receivers === 0) throw new Error("publish reached no subscriber");
      }),
    close() {
      sub.off("messageBuffer", onMessage);
      pending.close();
      void sub.unsubscribe(channel);
    },
  };
}

/** Messages between a node:cluster worker and the Pylon primary (registry and probe), told apart by `pylon`. */
export interface IpcMessage {
  pylon: "probe" | "probe-ack" | "announce" | "nodes" | "withdraw";
  token?: string;
  node?: unknown;
  nodes?: unknown[];
  id?: string;
}

export function isIpcMessage(m: unknown): m is IpcMessage {
  return typeof m === "object" && m !== null && typeof (m as { pylon?: unknown }).pylon === "string";
}

/** node:cluster: a worker sends a probe to the primary over IPC and waits for the echo. */
export function ipcProbe(proc: NodeJS.Process): BackplaneProbe {
  const pending = new PendingProbes();
  const onMessage = (m: unknown): void => {
    if (isIpcMessage(m) && m.pylon === "probe-ack" && m.token) pending.settle(m.token);
  };
  proc.on("message", onMessage);
  return {
    roundTrip: (timeoutMs) =>
      pending.add(timeoutMs, (token) => {
        if (!proc.send || !proc.connected) throw new Error("IPC channel to the primary is closed");
        const msg: IpcMessage = { pylon: "probe", token };
        proc.send(msg);
      }),
    close() {
      proc.off("message", onMessage);
      pending.close();
    },
  };
}
