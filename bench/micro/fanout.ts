// Micro benchmark of the broadcast write path (issue 3): server CPU microseconds per delivery for a broadcast to a
// room of N websocket connections, single broadcasts per tick and bursts of 10 per tick, and heap KB per idle
// connection; Pylon (default modules), Pylon with the fast path off, bare socket.io and a raw ws server, interleaved.
// Clients are raw TCP sockets that do the WebSocket handshake (and socket.io's namespace connect) and then discard
// what they read, so the load generator costs little. Usage:
//   npx tsx bench/micro/fanout.ts [--sizes 1000,5000] [--reps 3] [--kinds pylon,pylon-nofast,socketio,ws] [--no-pin]
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { topFrames } from "../lib/profile.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const sizes = opt("sizes", "1000,5000").split(",").map(Number);
const reps = Number(opt("reps", "3"));
const kinds = opt("kinds", "pylon,pylon-nofast,socketio,ws").split(",");
const pin = !args.includes("--no-pin") && availableParallelism() >= 2;
/** --prof DIR: CPU-profile the single-broadcast run of each server (DIR/<kind>-<n>.cpuprofile) and print its top frames. */
const profDir = args.includes("--prof") ? opt("prof", "bench/results/prof") : undefined;
const serverFile = fileURLToPath(new URL("./fanout-server.ts", import.meta.url));

interface Server {
  child: ChildProcess;
  port: number;
  ask<T>(m: object): Promise<T>;
}

async function startServer(kind: string, n: number): Promise<Server> {
  void n;
  const cmd = [process.execPath, "--expose-gc", "--import", "tsx", serverFile, kind, "0"];
  const child = spawn(pin ? "taskset" : cmd[0]!, pin ? ["-c", "0", ...cmd] : cmd.slice(1), { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const queue: ((m: unknown) => void)[] = [];
  child.on("message", (m) => queue.shift()?.(m));
  const ready = await new Promise<{ port: number }>((r) => queue.push(r as (m: unknown) => void));
  return { child, port: ready.port, ask: <T>(m: object) => new Promise<T>((r) => { queue.push(r as (m: unknown) => void); child.send(m); }) };
}

function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

function openClient(kind: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const path = kind === "ws" ? "/" : "/socket.io/?EIO=4&transport=websocket";
    let handshook = false;
    sock.on("connect", () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    sock.on("data", (d) => {
      if (handshook) return; // discard everything after the handshake
      if (!d.toString("latin1").startsWith("HTTP/1.1 101")) return reject(new Error(d.toString().slice(0, 200)));
      handshook = true;
      if (kind !== "ws") sock.write(maskedText("40")); // socket.io CONNECT to "/"
      resolve(sock);
    });
    sock.on("error", reject);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
type Row = Record<string, number[]>;
const results: Record<string, Row> = {};
const rec = (fig: string, kind: string, v: number): void => {
  ((results[fig] ??= {})[kind] ??= []).push(v);
};

for (let rep = 0; rep < reps; rep++) {
  const order = [...kinds.slice(rep % kinds.length), ...kinds.slice(0, rep % kinds.length)];
  for (const kind of order) {
    for (const n of sizes) {
      const srv = await startServer(kind, n);
      const base = await srv.ask<{ heapUsed: number }>({ cmd: "gc" });
      const clients: Socket[] = [];
      for (let i = 0; i < n; i += 100) clients.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => openClient(kind, srv.port)))));
      for (;;) {
        const s = await srv.ask<{ connections: number; heapUsed: number }>({ cmd: "gc" });
        if (s.connections >= n) {
          rec(`heap KB/conn @${n}`, kind, (s.heapUsed - base.heapUsed) / 1024 / n);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const ticks = Math.max(20, Math.round(200_000 / n));
      await srv.ask({ cmd: "run", ticks: 10, burst: 1 }); // warm-up
      const profFile = profDir ? join(profDir, `${kind}-${n}.cpuprofile`) : undefined;
      const single = await srv.ask<{ cpuUs: number; deliveries: number }>(profFile ? { cmd: "profile", file: profFile, ticks, burst: 1 } : { cmd: "run", ticks, burst: 1 });
      rec(`CPU us/delivery @${n}`, kind, single.cpuUs / single.deliveries);
      const burst = await srv.ask<{ cpuUs: number; deliveries: number }>({ cmd: "run", ticks: Math.max(5, Math.round(ticks / 10)), burst: 10 });
      rec(`CPU us/delivery burst10 @${n}`, kind, burst.cpuUs / burst.deliveries);
      process.stderr.write(`rep ${rep + 1} ${kind} n=${n}: ${(single.cpuUs / single.deliveries).toFixed(2)} us, burst ${(burst.cpuUs / burst.deliveries).toFixed(2)} us\n`);
      for (const c of clients) c.destroy();
      const exited = new Promise((r) => srv.child.once("exit", r));
      srv.child.kill("SIGKILL");
      await exited;
      if (profFile) {
        process.stderr.write(`top frames ${kind} n=${n}:\n`);
        for (const f of topFrames(profFile, 14)) process.stderr.write(`  ${f.self.toFixed(1)}%  ${f.fn}  ${f.where}\n`);
      }
    }
  }
}

const cols = kinds;
console.log(`| figure | ${cols.join(" | ")} | pylon/socket.io | pylon/ws |`);
console.log(`|---|${cols.map(() => "---|").join("")}---|---|`);
for (const [fig, row] of Object.entries(results)) {
  const m = Object.fromEntries(cols.map((k) => [k, row[k] ? median(row[k]) : NaN]));
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
  console.log(`| ${fig} | ${cols.map((k) => f(m[k]!)).join(" | ")} | ${f(m.pylon! / m.socketio!)} | ${f(m.pylon! / m.ws!)} |`);
}
console.log(`(medians of ${reps} interleaved runs; server ${pin ? "pinned to core 0" : "not pinned"}; the machine is shared: noisy)`);
