import type { IncomingMessage, ServerResponse } from "node:http";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

interface Route {
  method: string;
  /** Exact path, or a prefix when it ends with "/*". */
  path: string;
  handler: RouteHandler;
}

/** Tiny method+path router for the operational endpoints that share the engine's port. */
export class HttpRouter {
  readonly #routes: Route[] = [];
  readonly #onError: (err: unknown, req: IncomingMessage) => void;

  constructor(onError: (err: unknown, req: IncomingMessage) => void) {
    this.#onError = onError;
  }

  /** Adds a route; returns a disposer. `path` ending in "/*" matches every path below it. */
  add(method: string, path: string, handler: RouteHandler): () => void {
    const route = { method: method.toUpperCase(), path, handler };
    this.#routes.push(route);
    return () => {
      const i = this.#routes.indexOf(route);
      if (i >= 0) this.#routes.splice(i, 1);
    };
  }

  /** Handles the request if a route matches; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
    const route = this.#routes.find((r) => (r.method === method || r.method === "*") && matches(r.path, url.pathname));
    if (!route) return false;
    Promise.resolve()
      .then(() => route.handler(req, res, url))
      .catch((err: unknown) => {
        this.#onError(err, req);
        if (!res.headersSent) sendJson(res, 500, { error: { code: "internal_error" } });
        else res.destroy();
      });
    return true;
  }
}

function matches(pattern: string, path: string): boolean {
  if (pattern.endsWith("/*")) {
    const base = pattern.slice(0, -2);
    return path === base || path.startsWith(base + "/");
  }
  return pattern === path;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}
