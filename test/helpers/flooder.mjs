// A flooding client, run as its own process by the security flood test (so its CPU does not skew the measuring
// clients): one socket.io client emitting events as fast as allowed up to EVENTS_PER_SEC (reconnecting when it is
// disconnected), plus raw Engine.IO polling handshakes at HANDSHAKES_PER_SEC, all from one IP, for DURATION_MS.
// Prints one JSON line with what it observed.   usage: node flooder.mjs URL DURATION_MS EVENTS_PER_SEC HANDSHAKES_PER_SEC
import { io } from "socket.io-client";
import http from "node:http";

const [url, durationMs, eventsPerSec, handshakesPerSec] = [process.argv[2], ...process.argv.slice(3).map(Number)];
const FROM = { "x-forwarded-for": "10.6.6.6" }; // one client address, through the trusted (loopback) proxy
const stats = { eventsSent: 0, rateLimitedAcks: 0, okAcks: 0, disconnects: 0, disconnectCodes: {}, connects: 0, connectErrors: 0, handshakes: 0, handshakeStatus: {} };
const end = Date.now() + durationMs;
const TICK = 20;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let socket;

function connect() {
  if (Date.now() >= end) return;
  socket = io(url + "/demo", { transports: ["websocket"], reconnection: false, forceNew: true, extraHeaders: FROM });
  socket.on("connect", () => stats.connects++);
  socket.on("connect_error", () => {
    stats.connectErrors++;
    setTimeout(connect, 50);
  });
  socket.on("pylon:disconnect", (body) => {
    stats.disconnectCodes[body?.code] = (stats.disconnectCodes[body?.code] ?? 0) + 1;
  });
  socket.on("disconnect", () => {
    stats.disconnects++;
    setTimeout(connect, 10);
  });
}

function floodEvents() {
  const perTick = Math.ceil((eventsPerSec * TICK) / 1000);
  const timer = setInterval(() => {
    if (Date.now() >= end) return clearInterval(timer);
    if (!socket?.connected) return;
    for (let i = 0; i < perTick; i++) {
      stats.eventsSent++;
      if (i % 100 === 0) {
        socket.timeout(2000).emit("echo", i, (err, res) => {
          if (err) return;
          if (res?.error?.code === "rate_limited") stats.rateLimitedAcks++;
          else stats.okAcks++;
        });
      } else socket.emit("echo", i);
    }
  }, TICK);
}

function floodHandshakes() {
  const perTick = Math.ceil((handshakesPerSec * TICK) / 1000);
  const { hostname, port } = new URL(url);
  const timer = setInterval(() => {
    if (Date.now() >= end) return clearInterval(timer);
    for (let i = 0; i < perTick; i++) {
      stats.handshakes++;
      const req = http.get({ hostname, port, path: "/socket.io/?EIO=4&transport=polling", agent, headers: FROM }, (res) => {
        stats.handshakeStatus[res.statusCode] = (stats.handshakeStatus[res.statusCode] ?? 0) + 1;
        res.resume();
      });
      req.on("error", () => {
        stats.handshakeStatus.error = (stats.handshakeStatus.error ?? 0) + 1;
      });
    }
  }, TICK);
}

connect();
floodEvents();
// the handshake flood starts once the event flooder is in (or after 1 s), so both attacks run together
let started = false;
const startHandshakes = () => {
  if (started || handshakesPerSec <= 0) return;
  started = true;
  floodHandshakes();
};
socket.once("connect", startHandshakes);
setTimeout(startHandshakes, 1000);
setTimeout(() => {
  socket?.close();
  agent.destroy();
  process.stdout.write(JSON.stringify(stats) + "\n");
  setTimeout(() => process.exit(0), 200);
}, durationMs + 500);
