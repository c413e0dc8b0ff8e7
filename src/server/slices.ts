/**
 * Visits `items` in slices of `size` per macrotask (the first slice at once, the next ones each after a setImmediate),
 * so a walk over tens of thousands of connections never holds the event loop (and every broadcast) for one long
 * loop. `stopped()` is asked before each slice: once true, the rest is skipped. Resolves when the walk ends, rejects
 * with what `visit` threw (the rest is skipped). The pending setImmediate is unref'd (it never keeps a process alive).
 */
export function forEachInSlices<T>(items: readonly T[], size: number, visit: (item: T) => void, stopped: () => boolean = () => false): Promise<void> {
  return new Promise((resolve, reject) => {
    const slice = (from: number): void => {
      if (stopped()) return resolve();
      const end = Math.min(items.length, from + size);
      try {
        for (let i = from; i < end; i++) visit(items[i]!);
      } catch (err) {
        return reject(err);
      }
      if (end < items.length) setImmediate(slice, end).unref();
      else resolve();
    };
    slice(0);
  });
}
