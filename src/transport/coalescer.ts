import type { NetSocketLike } from "./engine-internals.js";

/**
 * Coalesces bursts: the write path asks `begin()` once per broadcast for the current tick generation; a connection
 * written to a second time within the same generation is corked, and every corked socket is uncorked once at the
 * end of the tick (process.nextTick), so its frames leave in one writev. Single writes per tick are never corked
 * (no added latency). Corking never reorders: everything written to a corked socket (fast path or engine path)
 * stays in its order in the socket's buffer.
 */
export class WriteCoalescer {
  #generation = 1;
  #scheduled = false;
  #closed = false;
  readonly #corked: NetSocketLike[] = [];
  readonly #endOfTick = (): void => this.flush();

  /** The current tick generation (never 0); schedules the end-of-tick uncork once per tick. */
  begin(): number {
    if (!this.#scheduled && !this.#closed) {
      this.#scheduled = true;
      process.nextTick(this.#endOfTick);
    }
    return this.#generation;
  }

  /** Corks a socket until the end of this tick. */
  cork(net: NetSocketLike): void {
    net.cork();
    this.#corked.push(net);
  }

  /** Number of sockets corked in the current tick (tests). */
  get corkedCount(): number {
    return this.#corked.length;
  }

  /** Ends the tick: uncorks every corked socket and starts a new generation. */
  flush(): void {
    this.#scheduled = false;
    this.#generation++;
    const corked = this.#corked;
    for (let i = 0; i < corked.length; i++) corked[i]!.uncork();
    corked.length = 0;
  }

  close(): void {
    this.#closed = true;
    this.flush();
  }
}
