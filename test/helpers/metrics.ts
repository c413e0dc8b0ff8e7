/** Prometheus text -> Map of `name{labels as printed}` (or `name`) -> value. Comments and blank lines are skipped. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    // the sample's value follows the last space outside the label set (an optional timestamp may follow it)
    const close = line.lastIndexOf("}");
    const rest = close >= 0 ? line.slice(close + 1).trim() : line.slice(line.indexOf(" ") + 1).trim();
    const key = close >= 0 ? line.slice(0, close + 1) : line.slice(0, line.indexOf(" "));
    const valueText = rest.split(/\s+/)[0] ?? "";
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    out.set(key, value);
  }
  return out;
}

/** Fetches `<url>/metrics` (or `url` itself when it already ends in /metrics) and parses it. */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const target = /\/metrics\/?$/.test(url) ? url : url.replace(/\/$/, "") + "/metrics";
  const res = await fetch(target);
  if (res.status !== 200) throw new Error(`scrapeMetrics: GET ${target} -> ${res.status}`);
  return parseMetrics(await res.text());
}

/** Splits a key `name{a="x",b="y"}` into its name and labels. */
export function parseKey(key: string): { name: string; labels: Record<string, string> } {
  const open = key.indexOf("{");
  if (open < 0) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key.slice(open + 1, -1))) !== null) {
    labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
  }
  return { name: key.slice(0, open), labels };
}

/** Sum of every sample named `name` whose labels include all of `labelFilter` (0 when none). */
export function metricSum(map: Map<string, number>, name: string, labelFilter: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of map) {
    const k = parseKey(key);
    if (k.name !== name) continue;
    if (Object.entries(labelFilter).every(([l, v]) => k.labels[l] === v)) sum += value;
  }
  return sum;
}
