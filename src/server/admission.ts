import type { IncomingMessage } from "node:http";

/** A refusal: `reason` is a stable code (e.g. draining, rate_limited, origin_not_allowed) sent to the client. */
export interface Refusal {
  reason: string;
}

export type AdmissionCheck = (req: IncomingMessage) => Refusal | null | Promise<Refusal | null>;

/**
 * Checks run before every Engine.IO handshake, in registration order; the first refusal wins.
 * Plugged into engine.io's allowRequest, so a refused client gets the standard Engine.IO "Forbidden" error
 * (HTTP 403, code 4) with the reason in context.
 */
export class Admission {
  readonly #checks: { name: string; check: AdmissionCheck }[] = [];

  add(name: string, check: AdmissionCheck): () => void {
    const entry = { name, check };
    this.#checks.push(entry);
    return () => {
      const i = this.#checks.indexOf(entry);
      if (i >= 0) this.#checks.splice(i, 1);
    };
  }

  async evaluate(req: IncomingMessage): Promise<Refusal | null> {
    for (const { check } of this.#checks) {
      const refusal = await check(req);
      if (refusal) return refusal;
    }
    return null;
  }
}
