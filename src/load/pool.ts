import { Worker } from "node:worker_threads";
import type { WorkerCommand, WorkerEvent, WorkerInit } from "./messages.js";

const FROM_SOURCE = import.meta.url.endsWith(".ts");

/**
 * The worker entry next to this file: worker.js when built; from source (tsx) a tiny bootstrap that registers tsx in
 * the worker thread first, then imports worker.ts.
 */
function spawnWorker(workerData: WorkerInit): Worker {
  if (!FROM_SOURCE) return new Worker(new URL("./worker.js", import.meta.url), { workerData });
  const api = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./worker.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Worker threads holding the load clients; request/reply over postMessage, plus broadcast `tick` events. */
export class WorkerPool {
  readonly size: number;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #onTick: ((phase: string, tick: number) => void) | undefined;
  #closed = false;

  constructor(init: Omit<WorkerInit, "index" | "count">, size: number) {
    this.size = Math.max(1, size);
    for (let index = 0; index < this.size; index++) {
      const w = spawnWorker({ ...init, index, count: this.size });
      w.on("message", (e: WorkerEvent) => this.#onEvent(e));
      w.on("error", (err) => this.#failAll(err));
      w.on("exit", (code) => {
        if (!this.#closed) this.#failAll(new Error(`load worker ${index} exited with code ${code}`));
      });
      this.#workers.push(w);
    }
  }

  onTick(cb: ((phase: string, tick: number) => void) | undefined): void {
    this.#onTick = cb;
  }

  #onEvent(e: WorkerEvent): void {
    if (e.type === "tick") {
      this.#onTick?.(e.phase, e.tick);
      return;
    }
    const p = this.#pending.get(e.id);
    if (!p) return;
    this.#pending.delete(e.id);
    if (e.ok) p.resolve(e.result);
    else p.reject(new Error(e.error));
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  request<T>(worker: number, command: WorkerCommand): Promise<T> {
    const w = this.#workers[worker];
    if (!w || this.#closed) return Promise.reject(new Error("load worker pool is closed"));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ id, command });
    });
  }

  /** Sends the same command (or one built per worker) to every worker. */
  all<T>(command: WorkerCommand | ((worker: number) => WorkerCommand)): Promise<T[]> {
    return Promise.all(this.#workers.map((_, i) => this.request<T>(i, typeof command === "function" ? command(i) : command)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await Promise.race([this.all({ cmd: "close" }), new Promise((r) => setTimeout(r, 3000).unref())]);
    } catch {
      // a dead worker: terminate below
    }
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#failAll(new Error("load worker pool closed"));
  }
}
