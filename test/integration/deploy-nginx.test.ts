import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, requireBinary, spawnTracked, startPylon, startRedis, tempDir, useCleanup, waitForPort, transportName } from "../helpers/index.js";
import { PING_ARGS, connectListeners, ownerNode, waitAllReceived, waitReady } from "../helpers/scale.js";

// The shipped deploy/nginx/pylon-round-robin.conf, unchanged except for the upstream addresses and the listen port,
// in front of 3 Pylon nodes on a real Redis.
useCleanup();

function runnable(conf: string, upstreams: string[], port: number, prefix: string): string {
  const servers = upstreams.map((u) => `  server ${u} max_fails=0;`).join("\n");
  const body = conf
    .replace(/^ {2}server \d+\.\d+\.\d+\.\d+:\d+ max_fails=0;\n/gm, "")
    .replace(/upstream pylon \{\n/, `upstream pylon {\n${servers}\n`)
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`);
  assert.ok(body.includes(upstreams[0]!) && body.includes(`listen 127.0.0.1:${port};`), "config rewritten");
  const tmp = join(prefix, "tmp");
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, "nginx.pid")};
error_log ${join(prefix, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log ${join(prefix, "access.log")};
  client_body_temp_path ${tmp}/cb; proxy_temp_path ${tmp}/p; fastcgi_temp_path ${tmp}/f; uwsgi_temp_path ${tmp}/u; scgi_temp_path ${tmp}/s;
${body}
}
`;
}

describe("deploy/nginx/pylon-round-robin.conf", () => {
  it("carries polling, websocket and upgrading clients to 3 nodes with no affinity", async () => {
    const bin = requireBinary("nginx", ["/usr/sbin/nginx", "nginx"]);
    const redis = await startRedis();
    const nodes = await Promise.all([1, 2, 3].map((i) => startPylon({ args: ["--redis-url", redis.url, "--node-id", `d${i}`, ...PING_ARGS] })));
    await Promise.all(nodes.map((n) => waitReady(n.url)));
    const prefix = tempDir("pylon-deploy-nginx-");
    mkdirSync(join(prefix, "tmp"), { recursive: true });
    const port = await freePort();
    const conf = join(prefix, "nginx.conf");
    const shipped = readFileSync(new URL("../../deploy/nginx/pylon-round-robin.conf", import.meta.url), "utf8");
    writeFileSync(conf, runnable(shipped, nodes.map((n) => `127.0.0.1:${n.port}`), port, prefix));
    const nginx = spawnTracked(bin, ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")], "nginx", { cwd: prefix });
    await waitForPort(port, { timeoutMs: 10_000, isAlive: nginx.alive });
    const url = `http://127.0.0.1:${port}`;

    const listeners = await connectListeners(url, 18, "d");
    assert.equal(new Set(listeners.map((l) => ownerNode(l.socket))).size, 3);
    const sender = listeners[0]!.socket;
    for (const text of ["a", "b", "c"]) sender.emit("say", { room: "d", text });
    await waitAllReceived(listeners, ["a", "b", "c"]);
    for (const l of listeners) {
      assert.deepEqual(l.disconnects, []);
      assert.equal(transportName(l.socket), l.kind === "polling" ? "polling" : "websocket");
    }
    await nginx.stop("SIGQUIT", 5000);
  });
});
