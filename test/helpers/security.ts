import { appendFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";
import { registerCloser } from "./cleanup.js";

/**
 * A JWKS endpoint on a free loopback port (node:http), whose key set can be swapped (rotation) and which counts
 * fetches (to check the refetch rate limit). Closed by useCleanup().
 */
export interface JwksServer {
  url: string;
  hits(): number;
  setKeys(keys: JWK[]): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let current = keys;
  let hits = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== "/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    hits++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: current }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  registerCloser(close);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/jwks.json`, hits: () => hits, setKeys: (k) => (current = k), close };
}

/**
 * Counts attack attempts and outcomes for `npm run test:attacks` (scripts/attacks.mjs): every attempt is one JSON
 * line appended to $PYLON_ATTACKS_FILE when set (nothing otherwise). `crashed` records a server process that died.
 */
export interface AttackTally {
  /** Records one attempt; returns `rejected` so it can wrap an assertion value. */
  attempt(name: string, rejected: boolean): boolean;
  crashed(name: string): void;
  readonly tried: number;
  readonly rejected: number;
}

export function attackTally(suite: string): AttackTally {
  const file = process.env.PYLON_ATTACKS_FILE;
  let tried = 0;
  let rejected = 0;
  const write = (rec: Record<string, unknown>): void => {
    if (file) appendFileSync(file, JSON.stringify({ suite, ...rec }) + "\n");
  };
  return {
    attempt(name, ok) {
      tried++;
      if (ok) rejected++;
      write({ kind: "attempt", name, rejected: ok });
      return ok;
    },
    crashed(name) {
      write({ kind: "crash", name });
    },
    get tried() {
      return tried;
    },
    get rejected() {
      return rejected;
    },
  };
}
