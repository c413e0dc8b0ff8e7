import { readFile } from "node:fs/promises";
import type { Socket } from "socket.io";
import type { PylonContext, PylonModule } from "../server/module.js";
import { errorBody } from "../protocol/errors.js";

/** Events the demo namespace accepts (client -> server). The contract is documented in docs/protocol.md. */
export interface DemoClientEvents {
  echo: (payload: unknown, ack: (payload: unknown) => void) => void;
  join: (room: string, ack?: (res: { ok: true } | { error: unknown }) => void) => void;
  say: (msg: { room: string; text: string }) => void;
}

/** Events the demo namespace sends (server -> client). */
export interface DemoServerEvents {
  message: (msg: { room: string; text: string; from: string }) => void;
}

/** Every event name of the demo contract, both directions. */
const DEMO_EVENT_NAMES = ["echo", "join", "say", "message"] as const satisfies readonly (keyof DemoClientEvents | keyof DemoServerEvents)[];

const ROOM_RE = /^[A-Za-z0-9_:.-]{1,64}$/;
const MAX_TEXT = 4096;

/**
 * The demo namespace /demo and the demo page at /:
 *  - echo(payload, ack): acks the payload back unchanged;
 *  - join(room, ack): joins the room and acks { ok: true };
 *  - say({ room, text }): emits message { room, text, from } to that room (from = sender socket id).
 */
export class DemoModule implements PylonModule {
  readonly name = "demo";
  readonly #webRoot: URL;

  constructor(webRoot: URL) {
    this.#webRoot = webRoot;
  }

  setup(ctx: PylonContext): void {
    ctx.metrics.declareEvents(DEMO_EVENT_NAMES); // counted by name in pylon_events_in/out_total
    const nsp = ctx.io.of("/demo");
    nsp.on("connection", (socket: Socket<DemoClientEvents, DemoServerEvents>) => {
      socket.on("echo", (payload, ack) => {
        if (typeof ack === "function") ack(payload);
      });
      socket.on("join", (room, ack) => {
        const reply = typeof ack === "function" ? ack : undefined;
        if (typeof room !== "string" || !ROOM_RE.test(room)) {
          reply?.({ error: errorBody("invalid_payload", { path: "room" }) });
          return;
        }
        void socket.join(room);
        reply?.({ ok: true });
      });
      socket.on("say", (msg) => {
        if (!msg || typeof msg !== "object" || typeof msg.room !== "string" || typeof msg.text !== "string") return;
        if (!socket.rooms.has(msg.room) || msg.text.length > MAX_TEXT) return;
        nsp.to(msg.room).emit("message", { room: msg.room, text: msg.text, from: socket.id });
      });
    });
    const page = new URL("index.html", this.#webRoot);
    ctx.routes.add("GET", "/", async (_req, res) => {
      const html = await readFile(page);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" });
      res.end(html);
    });
  }
}
