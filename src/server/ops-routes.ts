import type { Health } from "./health.js";
import { sendJson, sendText, type HttpRouter } from "./http-router.js";
import type { Metrics } from "../observability/metrics.js";

/** /healthz (process alive), /readyz (ready for traffic), /metrics (Prometheus). Returns a disposer. */
export function registerOpsRoutes(router: HttpRouter, health: Health, metrics: Metrics | undefined, nodeId: string): () => void {
  const disposers = [
    router.add("GET", "/healthz", (_req, res) => sendJson(res, 200, { status: "ok", nodeId })),
    router.add("GET", "/readyz", (_req, res) => {
      const r = health.readiness();
      sendJson(res, r.ready ? 200 : 503, { status: r.ready ? "ready" : "not_ready", nodeId, checks: r.checks });
    }),
  ];
  if (metrics) {
    disposers.push(
      router.add("GET", "/metrics", async (_req, res) => {
        const { contentType, body } = await metrics.render();
        sendText(res, 200, body, contentType);
      }),
    );
  }
  return () => disposers.forEach((d) => d());
}
