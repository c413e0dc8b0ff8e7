import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "socket.io";
import { connectClient, onceEvent, startRedis, useCleanup, waitFor, type ClientSocket, type RedisProcess } from "../helpers/index.js";
import { createPylon, type Pylon } from "../../src/index.js";
import { ClusterModule } from "../../src/cluster/cluster-module.js";

// socket.io's cross-node features through Pylon's configured adapter: 3 in-process Pylon nodes on a real Redis,
// each client connected to a different node. Run with the classic and the sharded (Redis 7) adapter.
const cleanup = useCleanup();

for (const sharded of [false, true]) {
  describe(`cross-node socket.io features, 3 nodes, redis adapter${sharded ? " (sharded pub/sub)" : ""}`, () => {
    let redis: RedisProcess;
    const nodes: Pylon[] = [];
    const clients: ClientSocket[] = [];

    before(async () => {
      redis = await startRedis();
      for (const id of ["f1", "f2", "f3"]) {
        const pylon = createPylon(
          {
            server: { port: 0, host: "127.0.0.1", demo: false },
            cluster: { redisUrl: redis.url, nodeId: id, redisSharded: sharded, probeIntervalMs: 200 },
            log: { level: "silent" },
            metrics: { processMetrics: false },
          },
          { modules: [new ClusterModule()] },
        );
        pylon.io.on("connection", (socket: Socket) => {
          socket.on("ask", (cb: (v: string) => void) => cb(`answer-from-${id}`));
        });
        pylon.io.on("who", (cb: (id: string) => void) => cb(id));
        cleanup.add(() => pylon.close());
        await pylon.start();
        nodes.push(pylon);
      }
      await waitFor(() => nodes.every((n) => n.health.readiness().ready), { message: "every node proved its backplane" });
      for (const n of nodes) {
        const c = await connectClient(n.address().url, { transports: ["websocket"] });
        c.on("ask", (cb: (v: string) => void) => cb(`client-${c.id}`));
        clients.push(c);
      }
      // every node's server-side socket joins "r"; the second one also joins "vip"
      // (the classic Redis adapter applies socketsJoin when its own request comes back through Redis, even locally)
      for (let i = 0; i < 3; i++) nodes[i]!.io.in(clients[i]!.id!).socketsJoin(i === 1 ? ["r", "vip"] : "r");
      await waitFor(async () => (await nodes[0]!.io.in("r").fetchSockets()).length === 3 && (await nodes[0]!.io.in("vip").fetchSockets()).length === 1, {
        message: "joins applied on every node",
      });
    });
    after(async () => {
      for (const c of clients) c.disconnect();
      for (const n of nodes) await n.close();
      await redis?.stop();
    });

    /**
     * Emits `event` through `send` on node `from`, then a marker to everyone from the same node; resolves with who got
     * `event`. The same node on both keeps the order per client (one Redis connection, published in order).
     */
    async function whoGets(event: string, from: Pylon, send: (from: Pylon) => void): Promise<boolean[]> {
      const got = clients.map(() => false);
      const handlers = clients.map((c, i) => {
        const h = (): void => void (got[i] = true);
        c.on(event, h);
        return h;
      });
      send(from);
      const marker = `marker-${event}`;
      const markers = clients.map((c) => onceEvent(c, marker, 5000));
      from.io.emit(marker);
      await Promise.all(markers);
      clients.forEach((c, i) => c.off(event, handlers[i]));
      return got;
    }

    it("room broadcast from any node reaches every node", async () => {
      for (const n of nodes) assert.deepEqual(await whoGets(`room-${n.nodeId}`, n, (f) => f.io.to("r").emit(`room-${n.nodeId}`)), [true, true, true]);
    });

    it("except", async () => {
      assert.deepEqual(await whoGets("ex", nodes[2]!, (f) => f.io.to("r").except("vip").emit("ex")), [true, false, true]);
    });

    it("fetchSockets", async () => {
      const sockets = await nodes[0]!.io.in("r").fetchSockets();
      assert.deepEqual(sockets.map((s) => s.id).sort(), clients.map((c) => c.id).sort());
      const vip = await nodes[2]!.io.in("vip").fetchSockets();
      assert.deepEqual(vip.map((s) => s.id), [clients[1]!.id]);
    });

    it("socketsJoin / socketsLeave on a remote socket", async () => {
      nodes[0]!.io.in(clients[2]!.id!).socketsJoin("extra");
      await waitFor(async () => (await nodes[1]!.io.in("extra").fetchSockets()).length === 1, { message: "remote join visible" });
      assert.deepEqual(await whoGets("ex1", nodes[1]!, (f) => f.io.to("extra").emit("ex1")), [false, false, true]);
      nodes[1]!.io.in("extra").socketsLeave("extra");
      await waitFor(async () => (await nodes[0]!.io.in("extra").fetchSockets()).length === 0, { message: "remote leave visible" });
      assert.deepEqual(await whoGets("ex2", nodes[0]!, (f) => f.io.to("extra").emit("ex2")), [false, false, false]);
    });

    it("serverSideEmit with ack collects every other node's answer", async () => {
      const answers = (await nodes[0]!.io.serverSideEmitWithAck("who")) as string[];
      assert.deepEqual(answers.sort(), ["f2", "f3"]);
    });

    it("broadcast with acks (timeout().emitWithAck) collects every client's answer across nodes", async () => {
      const answers = (await nodes[1]!.io.timeout(3000).to("r").emitWithAck("ask")) as string[];
      assert.deepEqual(answers.sort(), clients.map((c) => `client-${c.id}`).sort());
    });

    it("/api/nodes lists the 3 nodes; /api/rooms counts members across nodes", async () => {
      await waitFor(async () => {
        const r = (await (await fetch(`${nodes[0]!.address().url}/api/nodes`)).json()) as { nodes: { id: string }[] };
        return r.nodes.length === 3;
      });
      const nodeList = (await (await fetch(`${nodes[1]!.address().url}/api/nodes`)).json()) as { nodes: { id: string; address: string; connections: number; version: string }[] };
      assert.deepEqual(nodeList.nodes.map((n) => n.id), ["f1", "f2", "f3"]);
      assert.deepEqual(nodeList.nodes.map((n) => n.address), nodes.map((n) => `127.0.0.1:${n.address().port}`));
      const room = (await (await fetch(`${nodes[2]!.address().url}/api/rooms/_/r`)).json()) as { members: number; local: number };
      assert.deepEqual(room, { namespace: "/", room: "r", members: 3, local: 1 });
      assert.equal((await fetch(`${nodes[2]!.address().url}/api/rooms/nope/r`)).status, 404);
      assert.equal((await fetch(`${nodes[2]!.address().url}/api/rooms/onlyone`)).status, 400);
    });

    it("disconnectSockets on a remote socket", async () => {
      const c = clients[2]!;
      const reason = onceEvent<[string]>(c, "disconnect", 5000);
      nodes[0]!.io.in(c.id!).disconnectSockets(true);
      assert.equal((await reason)[0], "io server disconnect");
    });
  });
}
