import { randomBytes } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import { send, round } from "../eio.js";
import { fail, pass, skip, type Check, type CheckContext } from "../finding.js";

/**
 * cross-node: clients on every node (through --nodes, else spread by the balancer over the entry URL, as many as
 * /api/nodes reports nodes x --clients-per-node) join one room of the demo namespace; one client per entry says a
 * message; every client must receive every message. Missing messages mean the nodes do not share a backplane
 * (Redis/cluster adapter): broadcasts reach only the sender's node.
 */
export const crossNodeCheck: Check = {
  name: "cross-node",
  async run(ctx) {
    const { opts, facts } = ctx;
    if (!facts.open) return skip("skipped: no handshake", [], "partialBroadcasts");
    const evidence: string[] = [];
    const registered = await listNodes(ctx);
    if (registered) evidence.push(`/api/nodes: ${registered.length} node(s) ${registered.join(", ")}`);
    const entries = opts.nodes.length > 0 ? opts.nodes : [opts.target.base];
    const perEntry = opts.nodes.length > 0 ? opts.clientsPerNode : opts.clientsPerNode * Math.max(2, registered?.length ?? 2);
    const transports = facts.websocket === false ? ["polling"] : ["websocket"];
    const room = `doctor-${randomBytes(4).toString("hex")}`;
    const groups: Socket[][] = [];
    const connectErrors: string[] = [];
    try {
      for (const entry of entries) {
        const group: Socket[] = [];
        for (let i = 0; i < perEntry; i++) {
          const r = await connect(entry, opts.demoNamespace, opts.target.path, transports, opts.timeoutMs, opts.target.insecure, opts.target.ca, opts.token);
          if (typeof r === "string") connectErrors.push(r);
          else group.push(r);
        }
        groups.push(group);
      }
      if (connectErrors.some((e) => /invalid namespace/i.test(e))) {
        return skip(`skipped: the ${opts.demoNamespace} namespace is not served (server.demo off?)`, connectErrors.slice(0, 3), "partialBroadcasts");
      }
      const all = groups.flat();
      if (all.length < 2) return skip("skipped: fewer than 2 clients could connect", connectErrors.slice(0, 3), "partialBroadcasts");
      if (connectErrors.length) evidence.push(`${connectErrors.length} client(s) failed to connect: ${[...new Set(connectErrors)].slice(0, 3).join("; ")}`);
      const joined = await Promise.all(all.map((s) => join(s, room, opts.timeoutMs)));
      const members = all.filter((_, i) => joined[i]);
      const received = new Map<Socket, Set<string>>(members.map((s) => [s, new Set<string>()]));
      for (const s of members) s.on("message", (m: { room?: string; text?: string }) => m?.room === room && typeof m.text === "string" && received.get(s)!.add(m.text));
      const senders = groups.map((g) => g.find((s) => received.has(s))).filter((s): s is Socket => !!s);
      if (opts.nodes.length === 0 && members.length > 1 && senders[0] === members[0]) senders.push(members[members.length - 1]!);
      const texts = senders.map((s, i) => {
        const text = `doctor-${i}-${randomBytes(3).toString("hex")}`;
        s.emit("say", { room, text });
        return text;
      });
      const expected = texts.length * members.length;
      const count = (): number => [...received.values()].reduce((n, set) => n + texts.filter((t) => set.has(t)).length, 0);
      const deadline = Date.now() + Math.min(opts.timeoutMs, 3000);
      while (count() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const got = count();
      const perGroup = groups.map((g, i) => {
        const m = g.filter((s) => received.has(s));
        const n = m.reduce((acc, s) => acc + texts.filter((t) => received.get(s)!.has(t)).length, 0);
        return `${entries[i]!.host}: ${n}/${m.length * texts.length}`;
      });
      const missing = members.filter((s) => texts.some((t) => !received.get(s)!.has(t))).length;
      evidence.push(`${members.length} clients (${transports[0]}) in room ${room}, ${texts.length} broadcast(s): received ${got}/${expected} (${round((100 * got) / expected)}%)`);
      evidence.push(`per entry: ${perGroup.join(", ")}`);
      const data = { clients: members.length, broadcasts: texts.length, expected, received: got, completeness: round(got / expected, 4), clientsMissing: missing };
      if (got < expected) {
        return fail(
          "error",
          `broadcasts reach only some clients: ${missing} of ${members.length} clients missed at least one (${got}/${expected} delivered)`,
          evidence,
          "connect every node to one backplane (Pylon: --redis-url on every node, or --workers with the cluster adapter); check /api/nodes lists every node",
          "partialBroadcasts",
          data,
        );
      }
      return pass(`every client on every entry received every broadcast (${got}/${expected})`, evidence, "partialBroadcasts", data);
    } finally {
      for (const s of groups.flat()) s.disconnect();
    }
  },
};

type NodeEntry = { id?: unknown; address?: unknown };

async function listNodes({ opts, facts }: CheckContext): Promise<string[] | undefined> {
  if (facts.probe === false) return undefined;
  const headers = opts.adminToken ? { authorization: `Bearer ${opts.adminToken}` } : undefined;
  const res = await send({ ...opts.target, path: "/api/nodes" }, { timeoutMs: opts.timeoutMs, ...(headers ? { headers } : {}) }).catch(() => undefined);
  if (!res || res.status !== 200) return undefined; // 401: the nodes set admin.token (pass --admin-token); the check goes on without the list
  try {
    const body = JSON.parse(res.body) as { nodes?: NodeEntry[] } | NodeEntry[];
    const nodes = Array.isArray(body) ? body : (body.nodes ?? []);
    return nodes.map((n) => `${String(n.id)}@${String(n.address)}`);
  } catch {
    return undefined;
  }
}

function connect(base: URL, ns: string, path: string, transports: string[], timeoutMs: number, insecure: boolean, ca?: string | Buffer, token?: string): Promise<Socket | string> {
  return new Promise((resolve) => {
    const url = new URL(ns, base).toString();
    const s = io(url, { path, transports, forceNew: true, reconnection: false, timeout: timeoutMs, rejectUnauthorized: !insecure, ...(ca ? { ca: ca.toString() } : {}), ...(token ? { auth: { token } } : {}) });
    const timer = setTimeout(() => {
      s.disconnect();
      resolve("connect timeout");
    }, timeoutMs + 500);
    s.once("connect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("connect_error", (err) => {
      clearTimeout(timer);
      s.disconnect();
      resolve(err.message);
    });
  });
}

function join(s: Socket, room: string, timeoutMs: number): Promise<boolean> {
  return s
    .timeout(timeoutMs)
    .emitWithAck("join", room)
    .then((r: { ok?: boolean }) => r?.ok === true)
    .catch(() => false);
}
