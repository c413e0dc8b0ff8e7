import type { StreamPosition } from "../protocol/streams.js";

/** Where the SDK keeps the last seq it handled per stream (so a restart or page reload resumes exactly there). */
export interface PositionStore {
  get(stream: string): StreamPosition | undefined;
  set(stream: string, pos: StreamPosition): void;
  delete(stream: string): void;
}

/** Positions in memory (lost with the process/page). */
export function memoryPositions(): PositionStore {
  const map = new Map<string, StreamPosition>();
  return {
    get: (s) => map.get(s),
    set: (s, p) => void map.set(s, p),
    delete: (s) => void map.delete(s),
  };
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Positions in localStorage (or any Storage), written through on every handled message. */
export function localStoragePositions(prefix = "pylon:pos:", storage?: StorageLike): PositionStore {
  const st = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!st) throw new Error("localStoragePositions: no localStorage in this environment");
  return {
    get(s) {
      const raw = st.getItem(prefix + s);
      if (!raw) return undefined;
      try {
        const p = JSON.parse(raw) as StreamPosition;
        return typeof p.epoch === "string" && Number.isSafeInteger(p.seq) ? p : undefined;
      } catch {
        return undefined;
      }
    },
    set: (s, p) => st.setItem(prefix + s, JSON.stringify(p)),
    delete: (s) => st.removeItem(prefix + s),
  };
}
