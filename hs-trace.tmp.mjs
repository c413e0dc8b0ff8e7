// one polling+upgrade connection with socket.io-client; count server->client frames/bytes via a raw proxy
import { io } from "socket.io-client";
import net from "node:net";
const target = Number(process.argv[2]);
let chunksS = 0, bytesS = 0, chunksC = 0, bytesC = 0, conns = 0;
const proxy = net.createServer((c) => { conns++; const s = net.connect(target, "127.0.0.1"); c.on("data", (d) => { chunksC++; bytesC += d.length; s.write(d); }); s.on("data", (d) => { chunksS++; bytesS += d.length; c.write(d); }); c.on("close", () => s.destroy()); s.on("close", () => c.destroy()); c.on("error", () => {}); s.on("error", () => {}); });
await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
const sock = io(`http://127.0.0.1:${proxy.address().port}`, { transports: ["polling", "websocket"] });
sock.io.engine?.on?.("upgrade", () => {});
await new Promise((r) => sock.on("connect", r));
for (let i = 0; i < 50 && sock.io.engine.transport.name !== "websocket"; i++) await new Promise((r) => setTimeout(r, 20));
await new Promise((r) => setTimeout(r, 300));

console.log(conns);
sock.close(); proxy.close(); setTimeout(() => process.exit(0), 100);
