// A raw `ws` server doing the same work as the demo contract: JSON frames, rooms as Sets, a broadcast is the same
// frame (one Buffer) sent to each member. No heartbeat, no acks beyond the protocol. The practical limit for Node.
// Protocol (client -> server): {t:"join", id, room} -> {t:"ack", id, d:{ok:true}}; {t:"echo", id, d} -> {t:"ack", id, d};
// {t:"say", room, text} -> every member of room gets {t:"message", d:{room, text, from}}.
// Usage: node raw-ws.js <port> [host]
import { createServer } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.argv[2] ?? 3000);
const host = process.argv[3] ?? "127.0.0.1";
const ROOM_RE = /^[A-Za-z0-9_:.-]{1,64}$/;

interface Client {
  id: string;
  rooms: Set<string>;
}

const httpServer = createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });
const rooms = new Map<string, Set<WebSocket>>();
const clients = new WeakMap<WebSocket, Client>();
let nextId = 1;

wss.on("connection", (ws) => {
  const me: Client = { id: `c${nextId++}`, rooms: new Set() };
  clients.set(ws, me);
  ws.on("message", (data) => {
    let msg: { t?: string; id?: number; room?: unknown; text?: unknown; d?: unknown };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (msg.t === "echo") {
      ws.send(JSON.stringify({ t: "ack", id: msg.id, d: msg.d }));
    } else if (msg.t === "join") {
      if (typeof msg.room !== "string" || !ROOM_RE.test(msg.room)) {
        ws.send(JSON.stringify({ t: "ack", id: msg.id, d: { error: { code: "invalid_payload" } } }));
        return;
      }
      let set = rooms.get(msg.room);
      if (!set) rooms.set(msg.room, (set = new Set()));
      set.add(ws);
      me.rooms.add(msg.room);
      ws.send(JSON.stringify({ t: "ack", id: msg.id, d: { ok: true } }));
    } else if (msg.t === "say") {
      if (typeof msg.room !== "string" || typeof msg.text !== "string" || msg.text.length > 4096) return;
      if (!me.rooms.has(msg.room)) return;
      const frame = Buffer.from(JSON.stringify({ t: "message", d: { room: msg.room, text: msg.text, from: me.id } }));
      for (const peer of rooms.get(msg.room) ?? []) peer.send(frame, { binary: false });
    }
  });
  ws.on("close", () => {
    for (const r of me.rooms) {
      const set = rooms.get(r);
      set?.delete(ws);
      if (set && set.size === 0) rooms.delete(r);
    }
  });
});

httpServer.listen(port, host, () => {
  console.log(`raw ws listening on http://${host}:${port}`);
});
process.on("SIGTERM", () => {
  for (const ws of wss.clients) ws.terminate();
  httpServer.close(() => process.exit(0));
});
