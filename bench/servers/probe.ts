// Bench-only probe, preloaded into every server under test with `node --expose-gc --import <probe>`: answers IPC
// messages from the bench runner. Production code has no such hook; this file is never imported by src/.
//   {type:"bench:mem"}            -> forced GC (twice), then {type:"bench:mem", heapUsed, heapTotal, rss, external}
//   {type:"bench:cpu"}            -> {type:"bench:cpu", us} = process.cpuUsage() user+system, all threads (getrusage):
//                                    the in-process cross-check of the bench's /proc schedstat reading (lib/cpu.ts)
//   {type:"bench:http"}           -> {type:"bench:http", requests, upgrades}: HTTP requests and upgrade requests the
//                                    process's HTTP servers received so far (what a handshake costs in round trips)
//   {type:"bench:profile:start"}  -> starts the V8 CPU profiler (node:inspector)
//   {type:"bench:profile:stop", file} -> stops it, writes the .cpuprofile to `file`, replies {type:"bench:profile", file}
// When the IPC channel closes (the bench exited or was killed), the server exits.
import { writeFileSync } from "node:fs";
import { Server as HttpServer } from "node:http";
import { Session } from "node:inspector";

const gc = (globalThis as { gc?: () => void }).gc;
let session: Session | undefined;

// Counts "request" and "upgrade" events of every HTTP server in the process (the same hook in every server under test).
const http = { requests: 0, upgrades: 0 };
const httpEmit = HttpServer.prototype.emit;
HttpServer.prototype.emit = function countingEmit(this: HttpServer, event: string | symbol, ...args: unknown[]): boolean {
  if (event === "request") http.requests++;
  else if (event === "upgrade") http.upgrades++;
  return (httpEmit as (this: HttpServer, ...a: unknown[]) => boolean).call(this, event, ...args);
} as typeof HttpServer.prototype.emit;

function reply(msg: Record<string, unknown>): void {
  process.send?.(msg);
}

if (process.send) {
  process.on("message", (raw: unknown) => {
    const msg = raw as { type?: string; file?: string };
    if (msg?.type === "bench:mem") {
      if (!gc) return reply({ type: "bench:mem", error: "start the server with --expose-gc" });
      gc();
      gc();
      const m = process.memoryUsage();
      reply({ type: "bench:mem", heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external });
    } else if (msg?.type === "bench:cpu") {
      const u = process.cpuUsage();
      reply({ type: "bench:cpu", us: u.user + u.system });
    } else if (msg?.type === "bench:http") {
      reply({ type: "bench:http", ...http });
    } else if (msg?.type === "bench:profile:start") {
      session = new Session();
      session.connect();
      session.post("Profiler.enable", () => {
        session?.post("Profiler.setSamplingInterval", { interval: 100 }, () => {
          session?.post("Profiler.start", () => reply({ type: "bench:profile:started" }));
        });
      });
    } else if (msg?.type === "bench:profile:stop") {
      const s = session;
      if (!s) return reply({ type: "bench:profile", error: "not profiling" });
      s.post("Profiler.stop", (err, res) => {
        session = undefined;
        if (err || !msg.file) return reply({ type: "bench:profile", error: String(err ?? "no file") });
        writeFileSync(msg.file, JSON.stringify(res.profile));
        s.disconnect();
        reply({ type: "bench:profile", file: msg.file });
      });
    }
  });
  // The bench holds the other end: if it dies (even by SIGKILL, when it cannot clean up), the channel closes and the
  // server under test exits instead of living on as an orphan.
  process.on("disconnect", () => process.exit(0));
  process.channel?.unref();
}
