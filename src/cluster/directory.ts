import type { OwnerDirectory } from "../transport/session-router.js";
import type { NodeRegistry } from "./registry.js";

/** Owner addresses from the node registry, cached for a short time (one registry read per node, not per request). */
export class RegistryDirectory implements OwnerDirectory {
  readonly #cache = new Map<string, { address: string; until: number }>();
  readonly #inflight = new Map<string, Promise<string | undefined>>();

  constructor(
    readonly registry: NodeRegistry,
    readonly ttlMs: number,
  ) {}

  addressOf(nodeId: string): Promise<string | undefined> {
    const hit = this.#cache.get(nodeId);
    if (hit && hit.until > Date.now()) return Promise.resolve(hit.address);
    let p = this.#inflight.get(nodeId);
    if (!p) {
      p = this.registry
        .lookup(nodeId)
        .then(
          (rec) => {
            if (!rec) {
              this.#cache.delete(nodeId);
              return undefined;
            }
            this.#cache.set(nodeId, { address: rec.address, until: Date.now() + this.ttlMs });
            return rec.address;
          },
          () => hit?.address, // registry unreachable: keep using the last known address
        )
        .finally(() => this.#inflight.delete(nodeId));
      this.#inflight.set(nodeId, p);
    }
    return p;
  }

  forget(nodeId: string): void {
    this.#cache.delete(nodeId);
  }

  clear(): void {
    this.#cache.clear();
  }
}
