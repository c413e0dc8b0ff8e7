/** Most event sizes remembered per namespace of one connection before the oldest are dropped (desync guard). */
const MAX_QUEUED = 1024;

/**
 * Sizes of the inbound events of one Engine.IO connection, as received on the wire, queued per namespace.
 * socket.io decodes a frame and hands the packet to the namespace socket on the next tick, so several frames can
 * arrive before the first event's middleware runs: each EVENT / BINARY_EVENT header pushes its size (binary
 * attachments that follow add to it), and the namespace's middleware takes the sizes in arrival order.
 */
export class WireSizes {
  /** Created on the first event (an idle connection keeps none). */
  #queues: Map<string, number[]> | undefined;
  /** The queue and index of the last event header (binary attachments add to it); two fields, no object per event. */
  #curQueue: number[] | undefined;
  #curIndex = -1;

  /** Called for every engine "data" frame of the connection (through one listener shared by all connections). */
  onData(data: string | Buffer | ArrayBuffer): void {
    if (typeof data !== "string") {
      const q = this.#curQueue;
      const i = this.#curIndex;
      if (q !== undefined && i >= 0 && i < q.length) q[i]! += data.byteLength;
      return;
    }
    const type = data.charCodeAt(0);
    if (type !== 50 /* "2" EVENT */ && type !== 53 /* "5" BINARY_EVENT */) {
      this.#curQueue = undefined;
      return;
    }
    let nsp = "/";
    let start = 1;
    if (type === 53) start = data.indexOf("-") + 1 || 1;
    if (data.charCodeAt(start) === 47 /* "/" */) {
      const comma = data.indexOf(",", start);
      nsp = comma > 0 ? data.slice(start, comma) : data.slice(start);
    }
    const queues = (this.#queues ??= new Map());
    let queue = queues.get(nsp);
    if (!queue) queues.set(nsp, (queue = []));
    if (queue.length >= MAX_QUEUED) queue.shift();
    queue.push(data.length);
    this.#curQueue = queue;
    this.#curIndex = queue.length - 1;
  }

  /** The size of the next event of `nsp` (0 when unknown). */
  take(nsp: string): number {
    const queue = this.#queues?.get(nsp);
    const n = queue?.shift();
    if (queue !== undefined && this.#curQueue === queue) this.#curIndex--;
    return n ?? 0;
  }

  /** Forgets a namespace (its socket disconnected). */
  forget(nsp: string): void {
    if (this.#queues === undefined) return;
    if (this.#curQueue !== undefined && this.#curQueue === this.#queues.get(nsp)) this.#curQueue = undefined;
    this.#queues.delete(nsp);
  }
}
