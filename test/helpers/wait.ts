export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/** Polls `predicate` until it returns a truthy value (which is returned); rejects after timeoutMs (default 10 s). */
export async function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error)?.message ?? String(lastError)})` : "";
      throw new Error(`waitFor: ${opts.message ?? "condition not met"} within ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Anything with on/off (or once) listeners: EventEmitter, socket.io sockets, engine.io-client sockets. */
export interface EmitterLike {
  on(event: any, fn: any): unknown;
  off?(event: any, fn: any): unknown;
  removeListener?(event: any, fn: any): unknown;
}

/** Resolves with the arguments of the next `event`; rejects after timeoutMs (default 10 s). */
export function onceEvent<A extends unknown[] = any[]>(emitter: EmitterLike, event: string, timeoutMs = 10_000): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const off = (): void => {
      if (emitter.off) emitter.off(event, handler);
      else emitter.removeListener?.(event, handler);
    };
    const handler = (...args: any[]): void => {
      clearTimeout(timer);
      off();
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error(`onceEvent: no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, handler);
  });
}

/** Resolves after ms (only for pacing load, never to wait for something that can be awaited). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves like `promise`, or rejects after timeoutMs (the promise itself is not cancelled). */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message = "operation"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message}: no result within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
