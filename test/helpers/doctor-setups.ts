import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { requireBinary } from "./binaries.js";
import { spawnTracked } from "./child.js";
import { startNginx, type NginxProcess, type StartNginxOptions } from "./nginx.js";
import { CLI_PATH, tempDir } from "./paths.js";
import { freePort } from "./ports.js";
import { startPylon, type PylonProcess } from "./pylon-process.js";
import { startScaleCluster } from "./scale.js";

/**
 * Deployments for `pylon doctor`: one healthy setup and deliberately broken ones, each made with real nginx in front
 * of real Pylon processes. Shared by test/integration/doctor.test.ts and scripts/doctor-setups.ts (npm run test:doctor).
 */

/** What doctor must say about a setup: these checks fail with this severity; every other listed check passes. */
export interface Expectation {
  /** check name -> severity it must fail with */
  fails: Record<string, "error" | "warn">;
  /** checks that must pass (not skipped) */
  passes: string[];
}

export interface DoctorSetup {
  name: string;
  /** What is broken (or "nothing"). */
  fault: string;
  url: string;
  /** Extra doctor CLI arguments. */
  args: string[];
  expect: Expectation;
}

export interface DoctorFinding {
  name: string;
  ok: boolean;
  severity: "error" | "warn" | "info";
  summary: string;
  evidence: string[];
  fix: string;
  runbook: string;
  skipped?: boolean;
  data?: Record<string, unknown>;
}

export interface DoctorRun {
  code: number | null;
  findings: DoctorFinding[];
  stdout: string;
  stderr: string;
}

/** Quick heartbeat so the idle check ends in pingInterval + pingTimeout = 7 s. */
const FAST_HEARTBEAT = ["--engine.pingInterval", "2000", "--engine.pingTimeout", "5000"];

export interface Stoppable {
  stop(): Promise<unknown>;
}

/** Starts every setup (in parallel where possible). `track` receives each process for cleanup. */
export async function startDoctorSetups(track: (p: Stoppable) => void): Promise<DoctorSetup[]> {
  const pylon = async (args: string[]): Promise<PylonProcess> => {
    const p = await startPylon({ args });
    track(p);
    return p;
  };
  const nginx = async (o: StartNginxOptions): Promise<NginxProcess> => {
    const n = await startNginx(o);
    track(n);
    return n;
  };
  // a: fast heartbeat, b: default heartbeat (25 s + 20 s), c: an independent second node (no backplane)
  const [a, b, c] = await Promise.all([pylon(FAST_HEARTBEAT), pylon([]), pylon([...FAST_HEARTBEAT, "--cluster.forwarding", "false"])]);
  const up = (p: PylonProcess): string => `127.0.0.1:${p.port}`;
  // the 3-node production shape: Redis backplane, session forwarding, nginx round robin without affinity
  const cluster = await startScaleCluster({ args: ["--engine.pingTimeout", "5000"] });
  track(cluster.nginx);
  for (const n of cluster.nodes) track(n);
  track(cluster.redis);
  const tls = makeCert();
  const tlsPort = await freePort();
  const [healthy, strip, buffering, idle, roundRobin, , bodyLimit] = await Promise.all([
    nginx({ upstreams: [up(a)] }),
    nginx({ upstreams: [up(a)], stripUpgrade: true }),
    nginx({ upstreams: [up(a)], proxyBuffering: true }),
    nginx({ upstreams: [up(b)], readTimeout: "5s" }),
    nginx({ upstreams: [up(a), up(c)], affinity: "none" }),
    nginx({ upstreams: [up(a)], extraHttp: tlsServer(tlsPort, tls.cert, tls.key) }),
    nginx({ upstreams: [up(a)], extraLocation: "      client_max_body_size 100k;\n" }),
  ]);
  const tlsUrl = `https://127.0.0.1:${tlsPort}`;
  return [
    {
      name: "healthy",
      fault: "nothing",
      url: healthy.url,
      args: ["--idle-max", "12s"],
      expect: { fails: {}, passes: ["handshake", "websocket-upgrade", "proxy-buffering", "session-affinity", "idle-timeout", "cors-origin", "payload-limit", "cross-node"] },
    },
    {
      name: "healthy-3-node-cluster",
      fault: "nothing (3 nodes, Redis backplane, forwarding, round robin)",
      url: cluster.nginx.url,
      args: ["--idle-max", "12s", "--nodes", cluster.nodes.map((n) => n.url).join(",")],
      expect: { fails: {}, passes: ["handshake", "websocket-upgrade", "session-affinity", "idle-timeout", "cross-node"] },
    },
    {
      name: "upgrade-stripped",
      fault: "the proxy drops the Upgrade/Connection headers",
      url: strip.url,
      args: ["--idle-max", "12s"],
      expect: { fails: { "websocket-upgrade": "error" }, passes: ["handshake", "session-affinity", "proxy-buffering"] },
    },
    {
      name: "proxy-buffering",
      fault: "proxy_buffering on",
      url: buffering.url,
      args: ["--idle-max", "12s"],
      expect: { fails: { "proxy-buffering": "error" }, passes: ["handshake", "websocket-upgrade", "session-affinity"] },
    },
    {
      name: "idle-timeout-5s",
      fault: "proxy_read_timeout 5s below pingInterval 25 s",
      url: idle.url,
      args: ["--idle-max", "12s"],
      expect: { fails: { "idle-timeout": "error" }, passes: ["handshake", "websocket-upgrade", "session-affinity"] },
    },
    {
      name: "round-robin-no-forwarding",
      fault: "round robin over 2 nodes without affinity, forwarding or backplane",
      url: roundRobin.url,
      args: ["--idle-max", "12s"],
      expect: { fails: { "session-affinity": "error", "websocket-upgrade": "error", "cross-node": "error" }, passes: ["handshake"] },
    },
    {
      name: "app-origin-refused",
      fault: "the application's origin is not in engine.corsOrigins",
      url: healthy.url,
      args: ["--checks", "cors-origin", "--origin", "https://app.example.com"],
      expect: { fails: { "cors-origin": "error" }, passes: ["handshake", "websocket-upgrade"] },
    },
    {
      name: "proxy-body-limit",
      fault: "client_max_body_size 100k below maxHttpBufferSize (1 MB)",
      url: bodyLimit.url,
      args: ["--checks", "payload-limit"],
      expect: { fails: { "payload-limit": "error" }, passes: ["handshake", "websocket-upgrade"] },
    },
    {
      name: "tls-untrusted",
      fault: "self-signed certificate (not trusted)",
      url: tlsUrl,
      args: ["--checks", "tls"],
      expect: { fails: { tls: "error" }, passes: [] },
    },
    {
      name: "tls-expiring",
      fault: "certificate expires in 10 days (trusted with --ca)",
      url: tlsUrl,
      args: ["--checks", "tls", "--ca", tls.cert],
      expect: { fails: { tls: "warn" }, passes: ["handshake", "websocket-upgrade"] },
    },
  ];
}

/** Runs the built CLI `pylon doctor <url> --json ...args` and parses its report. */
export async function runDoctorCli(url: string, args: string[], timeoutMs = 90_000): Promise<DoctorRun> {
  const child = spawnTracked(process.execPath, [CLI_PATH, "doctor", url, "--json", ...args], "pylon-doctor");
  const timer = setTimeout(() => child.signal("SIGKILL"), timeoutMs);
  const exit = await child.exited;
  clearTimeout(timer);
  let findings: DoctorFinding[] = [];
  try {
    findings = (JSON.parse(child.stdout()) as { findings: DoctorFinding[] }).findings;
  } catch {
    // left empty: the caller reports stdout/stderr
  }
  return { code: exit.code, findings, stdout: child.stdout(), stderr: child.stderr() };
}

/** Compares a run with the expectation; returns the list of mismatches (empty = diagnosed correctly). */
export function diagnose(setup: DoctorSetup, run: DoctorRun): string[] {
  const problems: string[] = [];
  if (run.findings.length === 0) return [`no report (exit ${run.code}): ${run.stderr.slice(-500)}`];
  const byName = new Map(run.findings.map((f) => [f.name, f]));
  for (const [name, severity] of Object.entries(setup.expect.fails)) {
    const f = byName.get(name);
    if (!f) problems.push(`${name}: not in the report`);
    else if (f.ok || f.severity !== severity) problems.push(`${name}: expected to fail (${severity}), got ${f.ok ? "ok" : f.severity}: ${f.summary}`);
  }
  for (const name of setup.expect.passes) {
    const f = byName.get(name);
    if (!f) problems.push(`${name}: not in the report`);
    else if (!f.ok || f.skipped) problems.push(`${name}: expected to pass, got ${f.skipped ? "skipped" : f.severity}: ${f.summary} | ${f.evidence.join(" | ")}`);
  }
  const unexpectedErrors = run.findings.filter((f) => !f.ok && f.severity === "error" && !(f.name in setup.expect.fails));
  // consequences of the injected fault are allowed for the TLS setup (nothing works without trust)
  if (setup.name !== "tls-untrusted") for (const f of unexpectedErrors) problems.push(`${f.name}: unexpected error: ${f.summary}`);
  const wantExit = Object.values(setup.expect.fails).includes("error") ? 1 : 0;
  if (run.code !== wantExit) problems.push(`exit code ${run.code}, expected ${wantExit}`);
  return problems;
}

/** A self-signed certificate for 127.0.0.1, valid 10 days (openssl). */
function makeCert(): { cert: string; key: string } {
  const openssl = requireBinary("openssl", ["openssl"], "openssl");
  const dir = tempDir("pylon-tls-");
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "10", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/** An extra nginx server block terminating TLS in front of the same upstream (WebSocket essentials on). */
function tlsServer(port: number, cert: string, key: string): string {
  return `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      proxy_pass http://pylon_upstream;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $pylon_connection_upgrade;
      proxy_set_header Host $host;
      proxy_buffering off;
    }
  }
`;
}
