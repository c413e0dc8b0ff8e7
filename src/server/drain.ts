import type { PylonConfig } from "../config/index.js";

/** An engine-level connection that can be closed (the client then reconnects, to another node behind the LB). */
export interface Closable {
  close(): void;
}

export interface DrainPlan {
  /** Delay (ms from the start of the disconnect phase) of each batch. */
  at: number[];
  /** Size of each batch. */
  sizes: number[];
}

/** Splits n connections into batches spread evenly over the window: batch i starts at i * window / batches. */
export function planDrain(n: number, drain: PylonConfig["drain"]): DrainPlan {
  const batches = Math.max(1, Math.min(drain.batches, n));
  const base = Math.floor(n / batches);
  let extra = n % batches;
  const at: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < batches; i++) {
    at.push(batches === 1 ? 0 : Math.round((i * drain.windowMs) / batches));
    sizes.push(base + (extra > 0 ? 1 : 0));
    if (extra > 0) extra--;
  }
  return { at, sizes };
}

/**
 * Closes the connections batch by batch following the plan. Connections that went away on their own are skipped;
 * closing at the engine level makes official clients reconnect ("transport close"), unlike a socket.io disconnect.
 */
export async function runDrain(
  conns: Closable[],
  drain: PylonConfig["drain"],
  sleep: (ms: number) => Promise<void>,
  onBatch?: (index: number, size: number) => void,
): Promise<void> {
  const plan = planDrain(conns.length, drain);
  let offset = 0;
  let elapsed = 0;
  for (let i = 0; i < plan.at.length; i++) {
    const wait = plan.at[i]! - elapsed;
    if (wait > 0) await sleep(wait);
    elapsed = plan.at[i]!;
    const size = plan.sizes[i]!;
    for (const c of conns.slice(offset, offset + size)) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    offset += size;
    onBatch?.(i, size);
  }
}
