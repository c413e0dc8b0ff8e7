import { connect, createServer } from "node:net";

/** Ports this process handed out in the last minute: never handed out twice (parallel set-ups ask for several at
 * once, and the OS may give a just-released port again, so two servers would race for it). */
const handedOut = new Set<number>();
const HANDED_OUT_MS = 60_000;

/** A TCP port that was free on 127.0.0.1 a moment ago and that this process did not hand out recently (the OS picks
 * it; a small race window with other processes remains, as with any such helper). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await osFreePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    setTimeout(() => handedOut.delete(port), HANDED_OUT_MS).unref();
    return port;
  }
  throw new Error("freePort: the OS kept offering ports handed out a moment ago");
}

function osFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("freePort: no port assigned"))));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port (polls until timeoutMs). */
export async function waitForPort(port: number, opts: { host?: string; timeoutMs?: number; isAlive?: () => boolean } = {}): Promise<void> {
  const host = opts.host ?? "127.0.0.1";
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (opts.isAlive && !opts.isAlive()) throw new Error(`waitForPort: the process meant to listen on ${host}:${port} exited`);
    if (Date.now() > deadline) throw new Error(`waitForPort: nothing accepted connections on ${host}:${port} within ${opts.timeoutMs ?? 10_000} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
