import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";

interface Held {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer[];
  ended: boolean;
}

/**
 * One long-poll GET of a local session that arrived through another node. If that node dies while the poll is
 * pending, engine.io would see the request close and end the session, although the client is fine and its balancer
 * retries the GET elsewhere. So the poll is parked for a grace period: what engine.io writes is held, and the retried
 * GET (arriving through any node) is answered in its place. Nobody back within the grace period: engine.io sees the
 * close then, as it would have at once.
 */
class ParkablePoll {
  /** Where engine.io's answer goes now: the original response, a retried one, or nowhere (parked). */
  #target: ServerResponse | undefined;
  #held: Held | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = false;
  readonly #emitClose: () => boolean;

  constructor(
    readonly sid: string,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly graceMs: number,
    readonly onDone: (poll: ParkablePoll) => void,
  ) {
    this.#target = res;
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    const emit = req.emit.bind(req) as (event: string | symbol, ...args: unknown[]) => boolean;
    this.#emitClose = () => emit("close");
    // engine.io answers a poll with writeHead(status, headers) then end(data)
    res.writeHead = ((status: number, ...rest: unknown[]): ServerResponse => {
      const target = this.#target;
      if (this.#done || target === res) return writeHead(status, ...rest);
      const extra = (rest.find((r) => typeof r === "object" && r !== null) ?? {}) as OutgoingHttpHeaders;
      const headers = { ...(res.getHeaders() as OutgoingHttpHeaders), ...extra };
      if (target) target.writeHead(status, headers);
      else this.#held = { status, headers, body: [], ended: false };
      return res;
    }) as ServerResponse["writeHead"];
    // the compressed path pipes a stream into the response (write ... end): relayed the same way
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    res.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      const target = this.#target;
      if (this.#done || target === res) return write(chunk, ...rest);
      const data = toBuffer(chunk);
      if (target) target.write(data);
      else (this.#held ??= { status: 200, headers: res.getHeaders() as OutgoingHttpHeaders, body: [], ended: false }).body.push(data);
      return true; // never ask the pipe to wait for a 'drain' of a response that is gone
    }) as ServerResponse["write"];
    res.end = ((chunk?: unknown, ...rest: unknown[]): ServerResponse => {
      const target = this.#target;
      if (this.#done || target === res) {
        this.#finish();
        return end(chunk, ...rest);
      }
      const data = toBuffer(chunk);
      if (target) {
        target.end(data);
        this.#finish();
      } else {
        this.#held ??= { status: 200, headers: res.getHeaders() as OutgoingHttpHeaders, body: [], ended: false };
        this.#held.body.push(data);
        this.#held.ended = true;
      }
      return res;
    }) as ServerResponse["end"];
    req.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
      if (event !== "close" || this.#done) return emit(event, ...args);
      if (this.#target === res) this.#park();
      return false; // a parked or superseded request's close is not the session's
    }) as IncomingMessage["emit"];
  }

  #park(): void {
    if (this.#done) return;
    this.#target = undefined;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#finish();
      this.#emitClose();
    }, this.graceMs);
  }

  /** A new GET for the same session takes the place of this one. */
  takeOver(req2: IncomingMessage, res2: ServerResponse): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const previous = this.#target;
    const held = this.#held;
    if (held?.ended) {
      res2.writeHead(held.status, held.headers);
      res2.end(Buffer.concat(held.body));
      this.#finish();
      return;
    }
    for (const [k, v] of Object.entries(this.res.getHeaders())) if (v !== undefined) res2.setHeader(k, v);
    this.#target = res2;
    if (held) {
      res2.writeHead(held.status, held.headers);
      for (const b of held.body) res2.write(b);
    }
    // superseded while its path still looked open: that path is dead (clients never send two polls at once)
    if (previous && previous !== res2) previous.destroy();
    req2.once("close", () => {
      if (!this.#done && this.#target === res2 && !res2.writableEnded) this.#park();
    });
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.onDone(this);
  }

  /** On shutdown: stop waiting. */
  abandon(): void {
    if (this.#done) return;
    this.#finish();
    if (this.#target === undefined) this.#emitClose();
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (chunk === undefined || chunk === null || typeof chunk === "function") return Buffer.alloc(0);
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return Buffer.from(String(chunk));
}

/** Pending forwarded long-poll GETs of local sessions, which a retried GET can take over. */
export class PollHandoff {
  readonly #polls = new Map<string, ParkablePoll>();
  readonly #graceMs: number;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /**
   * A GET of a local session. Returns true when it took over a pending poll (answered here); otherwise false, so
   * engine.io serves it (tracked first when it came through another node).
   */
  onLocalPoll(sid: string, req: IncomingMessage, res: ServerResponse, forwarded: boolean): boolean {
    const pending = this.#polls.get(sid);
    if (pending) {
      pending.takeOver(req, res);
      return true;
    }
    if (forwarded) {
      // answered uncompressed: engine.io's compressed path pipes into the response and waits for its 'finish', which
      // a relayed answer cannot give it (and compressing for the loopback/LAN hop is wasted CPU anyway)
      delete req.headers["accept-encoding"];
      this.#polls.set(
        sid,
        new ParkablePoll(sid, req, res, this.#graceMs, (p) => {
          if (this.#polls.get(p.sid) === p) this.#polls.delete(p.sid);
        }),
      );
    }
    return false;
  }

  get size(): number {
    return this.#polls.size;
  }

  close(): void {
    for (const p of [...this.#polls.values()]) p.abandon();
    this.#polls.clear();
  }
}
