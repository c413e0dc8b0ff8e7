/** A minimal typed event emitter (works in browsers and Node; no dependency). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class Emitter<Events extends Record<string, (...args: any[]) => void>> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.#listeners.get(event)?.delete(listener);
  }

  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        (l as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }
}
