import { randomFillSync } from "node:crypto";

const ID_BYTES = 15;

/**
 * Engine.IO session ids that name their owning node: `<nodeId>.<20 random base64url chars>` (120 bits). A node id is
 * [A-Za-z0-9_-]{1,32} and base64url never contains ".", so the owner is everything before the first dot.
 * The random bytes are drawn from the CSPRNG 4 KiB at a time (273 ids per refill) instead of one `randomBytes(15)`
 * call (a Buffer and a trip into the CSPRNG) per handshake; engine.io's own base64id pools the same way. Each id's
 * bytes are used once; a pool belongs to one Pylon (no module state).
 */
export class SessionIdPool {
  readonly #pool = Buffer.allocUnsafe(ID_BYTES * 273);
  #offset = this.#pool.length;

  next(nodeId: string): string {
    if (this.#offset + ID_BYTES > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#offset = 0;
    }
    const start = this.#offset;
    this.#offset += ID_BYTES;
    return `${nodeId}.${this.#pool.toString("base64url", start, start + ID_BYTES)}`;
  }
}

/** The owner node of a session id, or undefined for ids that carry none (plain engine.io ids, garbage). */
export function ownerOf(sid: string): string | undefined {
  const dot = sid.indexOf(".");
  if (dot <= 0 || dot > 32) return undefined;
  const owner = sid.slice(0, dot);
  return /^[A-Za-z0-9_-]+$/.test(owner) ? owner : undefined;
}

/**
 * The `sid` query parameter of an engine request URL, if any (the first one, as URLSearchParams#get). Runs on every
 * engine request: a plain scan, with URLSearchParams only when the query has escapes ("%", "+") to decode.
 */
export function sidOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  let sid: string | null;
  if (url.indexOf("%", q) >= 0 || url.indexOf("+", q) >= 0) sid = new URLSearchParams(url.slice(q + 1)).get("sid");
  else {
    sid = null;
    for (let at = url.indexOf("sid=", q); at >= 0; at = url.indexOf("sid=", at + 1)) {
      const before = url.charCodeAt(at - 1);
      if (before !== 63 /* ? */ && before !== 38 /* & */) continue;
      const end = url.indexOf("&", at + 4);
      sid = url.slice(at + 4, end < 0 ? url.length : end);
      break;
    }
  }
  return sid && sid.length <= 128 ? sid : undefined;
}
