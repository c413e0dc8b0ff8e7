// Bare socket.io 4.8 with the official Redis adapter (@socket.io/redis-adapter on ioredis), written the way a user
// would: the demo contract on /demo (echo / join / say). The cross-node bench runs two of these on one Redis.
// Usage: node bare-socketio-redis.js <port> <host> <redisUrl>
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";

const port = Number(process.argv[2] ?? 3000);
const host = process.argv[3] ?? "127.0.0.1";
const redisUrl = process.argv[4] ?? "redis://127.0.0.1:6379";
const ROOM_RE = /^[A-Za-z0-9_:.-]{1,64}$/;

const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
const demo = io.of("/demo");

demo.on("connection", (socket) => {
  socket.on("echo", (payload, ack) => {
    if (typeof ack === "function") ack(payload);
  });
  socket.on("join", (room, ack) => {
    if (typeof room !== "string" || !ROOM_RE.test(room)) {
      if (typeof ack === "function") ack({ error: { code: "invalid_payload", message: "bad room" } });
      return;
    }
    void socket.join(room);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("say", (msg) => {
    if (!msg || typeof msg.room !== "string" || typeof msg.text !== "string") return;
    if (!socket.rooms.has(msg.room) || msg.text.length > 4096) return;
    demo.to(msg.room).emit("message", { room: msg.room, text: msg.text, from: socket.id });
  });
});

httpServer.listen(port, host, () => {
  console.log(`bare socket.io + redis adapter listening on http://${host}:${port}`);
});
process.on("SIGTERM", () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
  httpServer.close(() => process.exit(0));
});
