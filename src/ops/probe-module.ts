import type { IncomingMessage, ServerResponse } from "node:http";
import type { Counter } from "prom-client";
import { errorBody } from "../protocol/errors.js";
import type { PylonContext, PylonModule } from "../server/module.js";

/** Query parameter that marks a doctor probe on the engine path. */
export const PROBE_PARAM = "pylon_probe";
const MAX_CHUNKS = 10;
const MAX_GAP_MS = 500;
/** Streams in flight at once per node; more get 429 (counted). */
const MAX_CONCURRENT = 8;
/** Every stream line is padded to this size so the body length is known up front. */
const LINE_BYTES = 80;

/**
 * Server side of `pylon doctor`: two tiny probes served on the Engine.IO path itself, so they cross exactly the proxy
 * hops socket.io traffic crosses (a proxy that routes only /socket.io/ still reaches them):
 *  - `?pylon_probe=stream&chunks=N&gap=MS`: a response (fixed Content-Length) writing one NDJSON line `{i, t, node}`
 *    every MS ms (t = ms since the request arrived). A buffering proxy delivers them all at the end.
 *  - `?pylon_probe=node`: `{node, t}` (which node answered: shows the balancer's routing).
 * Bounded: at most 10 chunks 500 ms apart, at most 8 streams at once; nothing else is exposed.
 */
export class DoctorProbeModule implements PylonModule {
  readonly name = "doctor-probe";
  readonly #open = new Set<ServerResponse>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #dispose: (() => void) | undefined;
  #probes: Counter<"kind" | "outcome"> | undefined;

  setup(ctx: PylonContext): void {
    this.#probes = ctx.metrics.counter({ name: "doctor_probes_total", help: "Doctor probe requests served on the engine path, by kind and outcome", labelNames: ["kind", "outcome"] });
    this.#dispose = ctx.gate.onEngineRequest((req, res) => this.#handle(req, res, ctx.nodeId));
  }

  #handle(req: IncomingMessage, res: ServerResponse, nodeId: string): boolean {
    const url = req.url ?? "";
    if (!url.includes(PROBE_PARAM + "=")) return false;
    const q = new URL(url, "http://x").searchParams;
    const kind = q.get(PROBE_PARAM);
    if (req.method !== "GET" || (kind !== "stream" && kind !== "node")) return false;
    const started = performance.now();
    const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
    if (kind === "node") {
      this.#probes?.inc({ kind, outcome: "ok" });
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ node: nodeId, t: elapsed() }));
      return true;
    }
    if (this.#open.size >= MAX_CONCURRENT) {
      this.#probes?.inc({ kind, outcome: "busy" });
      res.writeHead(429, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ error: errorBody("rate_limited", { reason: "too many doctor probes at once" }) }));
      return true;
    }
    const chunks = clamp(Number(q.get("chunks") ?? 5), 2, MAX_CHUNKS);
    const gap = clamp(Number(q.get("gap") ?? 200), 10, MAX_GAP_MS);
    this.#probes?.inc({ kind, outcome: "ok" });
    // No X-Accel-Buffering header on purpose: the probe must see the proxy's own buffering setting. A fixed
    // Content-Length (not chunked): nginx flushes each upstream chunk of a chunked body even with buffering on, so
    // only a plain body shows what the proxy does with a response that trickles in, as engine.io's responses do.
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store", "content-length": String(chunks * LINE_BYTES) });
    this.#open.add(res);
    let i = 0;
    const write = (): void => {
      res.write(JSON.stringify({ i, t: elapsed(), node: nodeId.slice(0, 24) }).padEnd(LINE_BYTES - 1, " ") + "\n");
      i++;
      if (i >= chunks) {
        this.#open.delete(res);
        res.end();
        return;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        write();
      }, gap);
      this.#timers.add(timer);
    };
    res.once("close", () => this.#open.delete(res));
    write();
    return true;
  }

  close(): void {
    this.#dispose?.();
    this.#dispose = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const res of this.#open) res.destroy();
    this.#open.clear();
  }
}

function clamp(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.floor(n))) : min;
}
