/**
 * Bounded string interning for per-connection strings that repeat across connections (handshake time, url, address,
 * header values such as user-agent or host): equal content, one copy. Values over `maxLength` are left alone (tokens,
 * cookies: unique, and too big to keep a spare copy of); when the table is full it starts over (bounded memory).
 */
export class StringInterner {
  readonly #table = new Map<string, string>();
  readonly #maxEntries: number;
  readonly #maxLength: number;

  constructor(maxEntries = 1024, maxLength = 256) {
    this.#maxEntries = maxEntries;
    this.#maxLength = maxLength;
  }

  intern<T>(value: T): T {
    if (typeof value !== "string" || value.length > this.#maxLength) return value;
    const hit = this.#table.get(value);
    if (hit !== undefined) return hit as T;
    if (this.#table.size >= this.#maxEntries) this.#table.clear();
    this.#table.set(value, value);
    return value;
  }

  get size(): number {
    return this.#table.size;
  }
}
