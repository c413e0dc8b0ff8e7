import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createPylon, DemoModule, type Pylon } from "../../src/index.js";
import { WEB_ROOT } from "../../src/server/modules.js";
import { connectClient, emitWithAck, useCleanup } from "../helpers/index.js";

const cleanup = useCleanup();

interface ClientToServer {
  greet: (name: string, ack: (reply: { text: string; n: number }) => void) => void;
}
interface ServerToClient {
  notice: (text: string) => void;
}
interface SocketData {
  greeted: number;
}

function wireGreeter(pylon: Pylon<ClientToServer, ServerToClient, Record<string, never>, SocketData>): void {
  pylon.io.on("connection", (socket) => {
    socket.data.greeted = 0;
    socket.on("greet", (name, ack) => {
      socket.data.greeted++;
      ack({ text: `hello ${name}`, n: socket.data.greeted });
      socket.emit("notice", `greeted ${name}`);
    });
  });
}

test("typed events pass through createPylon's generics (compile-time check)", () => {
  const pylon = createPylon<ClientToServer, ServerToClient, Record<string, never>, SocketData>({ log: { level: "silent" } });
  pylon.io.on("connection", (socket) => {
    socket.on("greet", (name, ack) => {
      const n: string = name;
      ack({ text: n, n: 1 });
      // @ts-expect-error ack takes { text, n }
      ack("wrong");
    });
    socket.emit("notice", "ok");
    // @ts-expect-error notice takes a string
    socket.emit("notice", 42);
    // @ts-expect-error unknown server-to-client event
    socket.emit("not-an-event");
    const g: number = socket.data.greeted;
    void g;
  });
  // nothing was started: closing an unstarted Pylon is fine and idempotent
  return Promise.all([pylon.close(), pylon.close()]).then(() => undefined);
});

test("createPylon with its own HTTP server: start, typed round trip, ops endpoints, close() idempotent", async () => {
  const pylon = createPylon<ClientToServer, ServerToClient, Record<string, never>, SocketData>({
    server: { port: 0, host: "127.0.0.1", demo: false },
    log: { level: "silent" },
  });
  cleanup.add(() => pylon.close());
  wireGreeter(pylon);
  const { url, port } = await pylon.start();
  assert.ok(port > 0);
  assert.equal(url, `http://127.0.0.1:${port}`);
  await assert.rejects(pylon.start(), /start\(\) called in state running/);

  const client = await connectClient(url, { transports: ["websocket"] });
  const notice = new Promise<string>((r) => client.once("notice", r));
  assert.deepEqual(await emitWithAck(client, "greet", "ada"), { text: "hello ada", n: 1 });
  assert.equal(await notice, "greeted ada");
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  assert.match(await (await fetch(`${url}/metrics`)).text(), /pylon_sockets_connected\{namespace="\/",transport="websocket"\} 1/);

  const closing = pylon.close();
  assert.equal(pylon.close(), closing, "close() returns the same promise");
  await closing;
  await pylon.close();
  assert.equal(pylon.state, "closed");
  await assert.rejects(fetch(`${url}/healthz`));
});

test("createPylon attached to an existing http.Server: its own routes keep working next to Pylon's", async () => {
  const httpServer = createServer((req, res) => {
    if (req.url === "/hello") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("hello from the app");
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const pylon = createPylon({ server: { demo: true }, log: { level: "silent" } }, { httpServer, modules: [new DemoModule(WEB_ROOT)] });
  cleanup.add(async () => {
    await pylon.close();
    await new Promise<void>((r) => httpServer.close(() => r()));
  });
  await pylon.start(); // does not listen: the owner does
  assert.equal(httpServer.listening, false);
  await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;

  assert.equal(await (await fetch(`${url}/hello`)).text(), "hello from the app");
  assert.equal((await fetch(`${url}/nope`)).status, 404);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.match(await (await fetch(`${url}/`)).text(), /Pylon demo/);

  for (const transports of [["websocket"], ["polling"]]) {
    const client = await connectClient(`${url}/demo`, { transports });
    assert.deepEqual(await emitWithAck(client, "echo", { transports }), { transports });
    client.disconnect();
  }

  await pylon.close();
  await pylon.close();
  // the app's server is still the app's: it keeps serving its routes after Pylon closed
  assert.equal(httpServer.listening, true);
  assert.equal(await (await fetch(`${url}/hello`)).text(), "hello from the app");
});
