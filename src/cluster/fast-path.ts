import type { AdapterConstructor } from "./adapter.js";

/**
 * The broadcast write path wrapper (perf engineer's `withFastPath` mixin in src/transport/) applied to whichever
 * adapter is configured. Until it lands the adapter is used as is.
 */
export function wrapAdapter(adapter: AdapterConstructor): AdapterConstructor {
  return adapter; // FAST-PATH: return withFastPath(adapter) here once src/transport exports it
}
