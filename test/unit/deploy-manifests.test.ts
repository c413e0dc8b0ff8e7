import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { configFields } from "../../src/config/fields.js";
import { parseConfig } from "../../src/config/index.js";

// The deploy/ manifests stay in step with the config schema and with each other.
const root = new URL("../../deploy/", import.meta.url);

interface EnvVar {
  name: string;
  value?: string;
}

describe("deploy/k8s", () => {
  const deployment = parse(readFileSync(new URL("k8s/deployment.yaml", root), "utf8")) as {
    spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: { env: EnvVar[]; lifecycle: { preStop: { sleep: { seconds: number } } } }[] } } };
  };
  const pod = deployment.spec.template.spec;
  const env = pod.containers[0]!.env;

  it("every PYLON_* variable is a config variable", () => {
    const known = new Set(configFields().flatMap((f) => f.envNames));
    for (const e of env.filter((x) => x.name.startsWith("PYLON_"))) assert.ok(known.has(e.name), `${e.name} is not a config variable`);
  });

  it("terminationGracePeriodSeconds covers preStop + readyz grace + drain window", () => {
    const value = (name: string): string => env.find((e) => e.name === name)?.value ?? "";
    const drain = parseConfig({ drain: { windowMs: Number(value("PYLON_DRAIN_WINDOW_MS")), readyzGraceMs: Number(value("PYLON_DRAIN_READYZ_GRACE_MS")) } }).drain;
    const needed = pod.containers[0]!.lifecycle.preStop.sleep.seconds + (drain.readyzGraceMs + drain.windowMs) / 1000;
    assert.ok(pod.terminationGracePeriodSeconds > needed, `${pod.terminationGracePeriodSeconds} s > ${needed} s`);
  });

  it("the Ingress idle timeout exceeds pingInterval + pingTimeout", () => {
    const ingress = parse(readFileSync(new URL("k8s/ingress.yaml", root), "utf8")) as { metadata: { annotations: Record<string, string> } };
    const value = (name: string): number => Number(env.find((e) => e.name === name)?.value);
    const idle = Number(ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) * 1000;
    assert.ok(idle > value("PYLON_ENGINE_PING_INTERVAL") + value("PYLON_ENGINE_PING_TIMEOUT"));
    assert.equal(ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-buffering"], "off");
  });
});

describe("deploy/nginx", () => {
  for (const file of ["pylon-round-robin.conf", "pylon-cookie-affinity.conf"]) {
    it(`${file} has the WebSocket essentials`, () => {
      const conf = readFileSync(new URL(`nginx/${file}`, root), "utf8");
      assert.match(conf, /proxy_http_version 1\.1;/);
      assert.match(conf, /proxy_set_header Upgrade \$http_upgrade;/);
      assert.match(conf, /proxy_set_header Connection \$pylon_connection;/);
      assert.match(conf, /proxy_buffering off;/);
      const read = /proxy_read_timeout (\d+)s;/.exec(conf);
      const engine = parseConfig({}).engine;
      assert.ok(read && Number(read[1]) * 1000 > engine.pingInterval + engine.pingTimeout, "idle timeout above the heartbeat");
    });
  }
});
