// Top frames of a V8 .cpuprofile by self time, as a share of the busy (non-idle) samples.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface Frame {
  self: number;
  fn: string;
  where: string;
}

export function topFrames(file: string, n = 15): Frame[] {
  const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[] };
  const byKey = new Map<string, Frame & { hits: number }>();
  let total = 0;
  for (const node of prof.nodes) {
    const hits = node.hitCount ?? 0;
    const cf = node.callFrame;
    if (!hits || cf.functionName === "(idle)") continue; // percentages are of busy time
    total += hits;
    const where = cf.url ? `${cf.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(dist|src)\//, "$1/")}:${cf.lineNumber + 1}` : "";
    const key = `${cf.functionName}@${where}`;
    const f = byKey.get(key) ?? { self: 0, fn: cf.functionName || "(anonymous)", where, hits: 0 };
    f.hits += hits;
    byKey.set(key, f);
  }
  return [...byKey.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, n)
    .map((f) => ({ self: Math.round((1000 * f.hits) / Math.max(1, total)) / 10, fn: f.fn, where: f.where }));
}
