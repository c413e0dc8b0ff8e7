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

  /**
   * The first refusal, or null. Synchronous while every check answers synchronously (the default checks: no promise
   * per handshake); from the first check that returns a promise on, the rest run after it settles.
   */
  evaluate(req: IncomingMessage): Refusal | null | Promise<Refusal | null> {
    const checks = this.#checks;
    for (let i = 0; i < checks.length; i++) {
      const r = checks[i]!.check(req);
      if (r instanceof Promise) return this.#continueAsync(req, r, i + 1);
      if (r) return r;
    }
    return null;
  }

  async #continueAsync(req: IncomingMessage, pending: Promise<Refusal | null>, from: number): Promise<Refusal | null> {
    const first = await pending;
    if (first) return first;
    const checks = this.#checks.slice(from);
    for (const { check } of checks) {
      const refusal = await check(req);
      if (refusal) return refusal;
    }
    return null;
  }
}
