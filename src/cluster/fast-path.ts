import { withFastPath } from "../transport/fast-path.js";
import type { AdapterConstructor } from "./adapter.js";

/**
 * The broadcast write path (src/transport/fast-path.ts) applied to whichever adapter is configured: frames built
 * once per broadcast and written straight to idle websockets, for local and remote (backplane) broadcasts alike.
 */
export function wrapAdapter(adapter: AdapterConstructor): AdapterConstructor {
  return withFastPath(adapter);
}
