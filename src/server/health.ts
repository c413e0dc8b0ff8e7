export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export type ReadinessCheck = () => CheckResult;

/** Readiness: started, every registered check (e.g. backplane) healthy, not draining. Liveness is the process answering. */
export class Health {
  readonly #checks = new Map<string, ReadinessCheck>();
  #started = false;
  #draining = false;

  /** Registers a named readiness check; returns a disposer. */
  addCheck(name: string, check: ReadinessCheck): () => void {
    this.#checks.set(name, check);
    return () => this.#checks.delete(name);
  }

  markStarted(): void {
    this.#started = true;
  }

  markDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  readiness(): { ready: boolean; checks: Record<string, CheckResult> } {
    const checks: Record<string, CheckResult> = {
      started: { ok: this.#started },
      draining: { ok: !this.#draining, ...(this.#draining ? { detail: "draining" } : {}) },
    };
    for (const [name, check] of this.#checks) {
      try {
        checks[name] = check();
      } catch (err) {
        checks[name] = { ok: false, detail: (err as Error).message };
      }
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
