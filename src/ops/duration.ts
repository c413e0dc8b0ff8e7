/** Parses "250ms", "5s", "2m", or a bare number in `unit` ("ms" or "s") into milliseconds; undefined when invalid. */
export function parseDuration(text: string, unit: "ms" | "s" = "ms"): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const u = m[2] ?? unit;
  return u === "ms" ? n : u === "s" ? n * 1000 : n * 60_000;
}

/** Parses "1000000", "512kb", "8mb" (binary units) into bytes. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m)?\s*$/i.exec(text);
  if (!m) return undefined;
  const u = (m[2] ?? "b").toLowerCase();
  const mult = u.startsWith("k") ? 1024 : u.startsWith("m") ? 1024 * 1024 : 1;
  return Math.floor(Number(m[1]) * mult);
}
