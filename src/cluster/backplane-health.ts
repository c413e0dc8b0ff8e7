import type { Logger } from "../observability/logger.js";
import type { BackplaneMetrics } from "./backplane-metrics.js";
import type { BackplaneProbe } from "./probe.js";

export type BackplaneState = "unknown" | "up" | "down";

export interface BackplaneHealthOptions {
  kind: string;
  intervalMs: number;
  timeoutMs: number;
  /** The transport's last connection error (for the one log line of a down transition). */
  lastError?: () => string | undefined;
  /** Called on every transition (after logging). */
  onChange?: (state: BackplaneState) => void;
}

/**
 * Proves the backplane with a publish/subscribe round trip every intervalMs. Ready only after a round trip succeeded;
 * a failed or late round trip marks it down. Logs once per state change (error on down, info on up), never per probe.
 */
export class BackplaneHealth {
  #state: BackplaneState = "unknown";
  #since = Date.now();
  #detail = "no round trip yet";
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #closed = false;
  readonly #waiters: (() => void)[] = [];

  constructor(
    readonly probe: BackplaneProbe,
    readonly options: BackplaneHealthOptions,
    readonly logger: Logger,
    readonly metrics: BackplaneMetrics,
  ) {
    metrics.connected.set(0);
  }

  get state(): BackplaneState {
    return this.#state;
  }

  /** For /readyz. */
  check(): { ok: boolean; detail?: string } {
    return this.#state === "up" ? { ok: true } : { ok: false, detail: `backplane ${this.#state}: ${this.#detail}` };
  }

  start(): void {
    if (this.#timer || this.#closed) return;
    void this.#tick();
    this.#timer = setInterval(() => void this.#tick(), this.options.intervalMs);
    this.#timer.unref();
  }

  /** Resolves when the backplane is up (or the health is closed). */
  whenUp(): Promise<void> {
    if (this.#state === "up" || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #tick(): Promise<void> {
    if (this.#inFlight || this.#closed) return;
    this.#inFlight = true;
    const t0 = process.hrtime.bigint();
    try {
      await this.probe.roundTrip(this.options.timeoutMs);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      this.metrics.rtt.observe(seconds);
      this.#set("up", `round trip ${(seconds * 1000).toFixed(2)} ms`);
    } catch (err) {
      if (this.#closed) return;
      const cause = this.options.lastError?.();
      const detail = cause ? `${(err as Error).message} (${cause})` : (err as Error).message;
      // at start, connecting is not an outage until the probe timeout has passed
      if (this.#state === "unknown" && Date.now() - this.#since < this.options.timeoutMs) this.#detail = detail;
      else this.#set("down", detail);
    } finally {
      this.#inFlight = false;
    }
  }

  #set(state: BackplaneState, detail: string): void {
    this.#detail = detail;
    if (state === this.#state) return;
    const previous = this.#state;
    const downForMs = Date.now() - this.#since;
    this.#state = state;
    this.#since = Date.now();
    this.metrics.connected.set(state === "up" ? 1 : 0);
    this.metrics.stateChanges.inc({ state });
    if (state === "up") {
      this.logger.info({ backplane: this.options.kind, detail, ...(previous === "down" ? { downForMs } : {}) }, previous === "down" ? "backplane recovered" : "backplane up");
      for (const w of this.#waiters.splice(0)) w();
    } else {
      this.logger.error({ backplane: this.options.kind, detail }, "backplane down");
    }
    this.options.onChange?.(state);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.probe.close();
    for (const w of this.#waiters.splice(0)) w();
  }
}
