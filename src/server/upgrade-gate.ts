import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/** Returns true when it took over the request (e.g. forwarded it to the session's owner node). */
export type RequestHook = (req: IncomingMessage, res: ServerResponse) => boolean;
/** Returns true when it took over the upgrade (e.g. piped it to the owner node, or refused it). */
export type UpgradeHook = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Hooks in front of engine.io for requests on the engine path and for HTTP upgrades. */
export class UpgradeGate {
  readonly #requestHooks: RequestHook[] = [];
  readonly #upgradeHooks: UpgradeHook[] = [];

  onEngineRequest(hook: RequestHook): () => void {
    this.#requestHooks.push(hook);
    return () => remove(this.#requestHooks, hook);
  }

  onUpgrade(hook: UpgradeHook): () => void {
    this.#upgradeHooks.push(hook);
    return () => remove(this.#upgradeHooks, hook);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    return this.#requestHooks.some((h) => h(req, res));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return this.#upgradeHooks.some((h) => h(req, socket, head));
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
