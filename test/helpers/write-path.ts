import { createPylon, type Pylon } from "../../src/server/pylon.js";
import type { PylonConfigInput } from "../../src/config/index.js";
import { WritePathModule } from "../../src/transport/write-path-module.js";
import { FlowModule } from "../../src/flow/flow-module.js";
import { registerCloser } from "./cleanup.js";

export interface InProcessPylon {
  pylon: Pylon;
  url: string;
  writePath: WritePathModule;
  flow: FlowModule;
}

/**
 * An in-process Pylon (port 0, loopback, logs silent, no demo) with the write-path and flow modules, so tests can read
 * their counters. Closed by useCleanup() at the end of the file.
 */
export async function startInProcessPylon(config: PylonConfigInput = {}): Promise<InProcessPylon> {
  const writePath = new WritePathModule();
  const flow = new FlowModule(writePath);
  const pylon = createPylon(
    {
      ...config,
      server: { port: 0, host: "127.0.0.1", demo: false, ...(config.server ?? {}) },
      log: { level: "silent", ...(config.log ?? {}) },
    },
    { modules: [writePath, flow] },
  );
  registerCloser(() => pylon.close());
  const addr = await pylon.start();
  return { pylon, url: addr.url, writePath, flow };
}

/** The net.Socket under a Node socket.io-client's WebSocket transport (engine.io-client uses the `ws` package). */
function clientNetSocket(client: { io: { engine: { transport: unknown } } }): { pause(): void; resume(): void } {
  const t = client.io.engine.transport as { name: string; ws?: { _socket?: { pause(): void; resume(): void } } };
  if (t.name !== "websocket" || !t.ws?._socket) throw new Error(`client is not on a websocket transport (${t.name})`);
  return t.ws._socket;
}

/** Makes a client stop reading from its TCP socket (the server's writes pile up: kernel buffers, then user space). */
export function pauseClient(client: { io: { engine: { transport: unknown } } }): void {
  clientNetSocket(client).pause();
}

export function resumeClient(client: { io: { engine: { transport: unknown } } }): void {
  clientNetSocket(client).resume();
}

/**
 * Emits reliable filler messages (`fill`, 64 KB) to a server socket, one batch per macrotask, until `pending()`
 * reaches `bytes`; bounded by `maxMessages`. Returns how many were sent.
 */
export async function fillUntil(emit: (payload: string) => void, pending: () => number, bytes: number, maxMessages = 600): Promise<number> {
  const payload = "f".repeat(65_536);
  let sent = 0;
  while (pending() < bytes) {
    if (sent >= maxMessages) throw new Error(`fillUntil: pending ${pending()} < ${bytes} after ${sent} messages`);
    for (let i = 0; i < 8; i++, sent++) emit(payload);
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}
