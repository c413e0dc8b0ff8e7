/**
 * Map stand-ins for socket.io's per-connection maps: a `new Map()` costs ~180 B (object + smallest hash table) even
 * empty or with one entry. Both implement the whole Map interface (and report "[object Map]"); neither is a Map
 * subclass (that would allocate the table anyway).
 */

/**
 * A Map that allocates its table on first use and drops it when emptied (a `new Map()` costs ~180 B even empty).
 * Stands in for socket.io's per-socket `acks` map, which socket.io and socket.io-adapter only `set` / `get` / `delete`
 * (and Pylon's tests iterate); the whole Map interface is implemented for anything else that reads it.
 */
export class LazyMap<K, V> implements Map<K, V> {
  #map: Map<K, V> | undefined;

  get size(): number {
    return this.#map === undefined ? 0 : this.#map.size;
  }
  get [Symbol.toStringTag](): string {
    return "Map";
  }
  get(key: K): V | undefined {
    return this.#map === undefined ? undefined : this.#map.get(key);
  }
  has(key: K): boolean {
    return this.#map !== undefined && this.#map.has(key);
  }
  set(key: K, value: V): this {
    (this.#map ??= new Map()).set(key, value);
    return this;
  }
  delete(key: K): boolean {
    const m = this.#map;
    if (m === undefined || !m.delete(key)) return false;
    if (m.size === 0) this.#map = undefined;
    return true;
  }
  clear(): void {
    this.#map = undefined;
  }
  forEach(cb: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    this.#map?.forEach((v, k) => cb.call(thisArg, v, k, this));
  }
  entries(): MapIterator<[K, V]> {
    return (this.#map ?? new Map<K, V>()).entries();
  }
  keys(): MapIterator<K> {
    return (this.#map ?? new Map<K, V>()).keys();
  }
  values(): MapIterator<V> {
    return (this.#map ?? new Map<K, V>()).values();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

/**
 * A Map that keeps its first entry inline and becomes a real Map at the second distinct key (and stays one). For
 * socket.io Client's `sockets` / `nsps` (one entry per namespace the client joined; usually one). Iterators over
 * the inline entry are taken over a copy (socket.io deletes the current entry while iterating: fine either way).
 */
export class SmallMap<K, V> implements Map<K, V> {
  #key: K | undefined = undefined;
  #value: V | undefined = undefined;
  /** 0: empty, 1: one inline entry, 2: `#map` holds the entries. */
  #state: 0 | 1 | 2 = 0;
  #map: Map<K, V> | undefined = undefined;

  constructor(entries?: Iterable<readonly [K, V]>) {
    if (entries !== undefined) for (const [k, v] of entries) this.set(k, v);
  }

  get size(): number {
    return this.#state === 2 ? this.#map!.size : this.#state;
  }
  get [Symbol.toStringTag](): string {
    return "Map";
  }
  get(key: K): V | undefined {
    if (this.#state === 2) return this.#map!.get(key);
    return this.#state === 1 && sameValueZero(this.#key, key) ? this.#value : undefined;
  }
  has(key: K): boolean {
    if (this.#state === 2) return this.#map!.has(key);
    return this.#state === 1 && sameValueZero(this.#key, key);
  }
  set(key: K, value: V): this {
    if (this.#state === 2) this.#map!.set(key, value);
    else if (this.#state === 0 || sameValueZero(this.#key, key)) {
      this.#key = key;
      this.#value = value;
      this.#state = 1;
    } else {
      this.#map = new Map<K, V>([[this.#key as K, this.#value as V], [key, value]]);
      this.#key = this.#value = undefined;
      this.#state = 2;
    }
    return this;
  }
  delete(key: K): boolean {
    if (this.#state === 2) return this.#map!.delete(key);
    if (this.#state === 0 || !sameValueZero(this.#key, key)) return false;
    this.#key = this.#value = undefined;
    this.#state = 0;
    return true;
  }
  clear(): void {
    if (this.#state === 2) this.#map!.clear();
    else {
      this.#key = this.#value = undefined;
      this.#state = 0;
    }
  }
  forEach(cb: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    if (this.#state === 2) this.#map!.forEach((v, k) => cb.call(thisArg, v, k, this));
    else if (this.#state === 1) cb.call(thisArg, this.#value as V, this.#key as K, this);
  }
  entries(): MapIterator<[K, V]> {
    return this.#asMap().entries();
  }
  keys(): MapIterator<K> {
    return this.#asMap().keys();
  }
  values(): MapIterator<V> {
    return this.#asMap().values();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
  /** The real map, or a copy of the inline entry. */
  #asMap(): Map<K, V> {
    if (this.#state === 2) return this.#map!;
    return this.#state === 1 ? new Map([[this.#key as K, this.#value as V]]) : new Map();
  }
}

function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}
