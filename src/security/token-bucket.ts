/**
 * A token bucket: `burst` tokens, refilled at `perSec` per second. take(cost) spends tokens or says how long to wait.
 * The clock is injected (tests, and one `now` read per event for several buckets).
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly perSec: number;
  readonly burst: number;

  constructor(perSec: number, burst: number, now: number) {
    this.perSec = perSec;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.perSec) / 1000);
      this.#last = now;
    }
  }

  /** Spends `cost` tokens; returns 0 when allowed, else the milliseconds until that many tokens are available. */
  take(now: number, cost = 1): number {
    this.#refill(now);
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      return 0;
    }
    const missing = Math.min(cost, this.burst) - this.#tokens;
    return Math.max(1, Math.ceil((missing * 1000) / this.perSec));
  }

  /** Whether the bucket is full at `now` (an idle key can be forgotten). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }
}
