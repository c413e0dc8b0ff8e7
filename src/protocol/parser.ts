import { createRequire } from "node:module";
import type * as Parser from "socket.io-parser";

// The parser's ESM entry resolves to its debug build under Node (every packet pays for debug() calls); load the CJS
// build, the very module socket.io itself uses.
const { Decoder, Encoder } = createRequire(import.meta.url)("socket.io-parser") as typeof Parser;

const EVENT = 2;
const ACK = 3;
const BINARY_EVENT = 5;
const CHAR_0 = 48;
const CHAR_9 = 57;
const CHAR_SLASH = 47;
const CHAR_BRACKET = 91;

/** Event names socket.io-parser refuses in an EVENT packet (they have a meaning of their own). */
const RESERVED_EVENTS = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);

/** A decoded EVENT / ACK packet, shaped like socket.io-parser's (same keys, same order). */
export interface TextPacket {
  type: number;
  nsp: string;
  id?: number;
  data: unknown[];
}

/**
 * Decodes the common shape of a text EVENT / ACK packet, `2` or `3`, then `/nsp,` (optional), then the ack id
 * (digits, optional), then a JSON array: the same packet socket.io-parser's decodeString() returns for such a string.
 * Anything else (other packet types, binary headers, odd spellings, bad JSON, an invalid payload) gives undefined:
 * the caller hands the string to socket.io-parser itself, so its results and its errors stay the reference.
 */
export function decodeTextPacket(str: string): TextPacket | undefined {
  const type = str.charCodeAt(0) - CHAR_0;
  if (type !== EVENT && type !== ACK) return undefined;
  let i = 1;
  let nsp = "/";
  if (str.charCodeAt(1) === CHAR_SLASH) {
    const comma = str.indexOf(",", 1);
    if (comma < 0) return undefined;
    nsp = str.slice(1, comma);
    i = comma + 1;
  }
  const idStart = i;
  for (let c = str.charCodeAt(i); c >= CHAR_0 && c <= CHAR_9; c = str.charCodeAt(++i));
  if (str.charCodeAt(i) !== CHAR_BRACKET) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(str.slice(i));
  } catch {
    return undefined;
  }
  if (!Array.isArray(data)) return undefined;
  if (type === EVENT) {
    const name: unknown = data[0];
    if (typeof name !== "number" && (typeof name !== "string" || RESERVED_EVENTS.has(name))) return undefined;
  }
  return idStart < i ? { type, nsp, id: Number(str.slice(idStart, i)), data } : { type, nsp, data };
}

/** Most nesting levels encodeTextPacket() walks before leaving a payload to socket.io-parser. */
const MAX_DEPTH = 8;

/**
 * True when `v` certainly holds no binary data and nothing JSON.stringify would treat specially: primitives, arrays and
 * plain objects (prototype Object.prototype or null) without `toJSON`, at most MAX_DEPTH deep. False means "not
 * sure" (a Buffer, a Date, a class instance, deep data): socket.io-parser's own encoder then decides.
 */
function isPlainJson(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== "object") return true;
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === "function") return false;
  for (const k in o) if (!isPlainJson(o[k], depth + 1)) return false;
  return true;
}

interface OutPacket {
  type: number;
  nsp?: string;
  id?: number;
  data?: unknown;
}

/**
 * The string socket.io-parser's encodeAsString() builds for an EVENT / ACK packet whose data is plain JSON (see
 * isPlainJson), or undefined for any other packet (the caller uses socket.io-parser's encoder).
 */
export function encodeTextPacket(packet: OutPacket): string | undefined {
  const { type, data } = packet;
  if ((type !== EVENT && type !== ACK) || !isPlainJson(data, 0)) return undefined;
  return textOf(type, packet.nsp, packet.id, data);
}

/** encodeAsString() of an EVENT / ACK packet with plain-JSON data (checked by the callers). */
function textOf(type: number, nsp: string | undefined, id: number | undefined, data: unknown): string {
  let str = type === EVENT ? "2" : "3";
  if (nsp && nsp !== "/") str += nsp + ",";
  if (id != null) str += id;
  if (data != null) str += JSON.stringify(data);
  return str;
}

interface DecoderInternals {
  reconstructor: { reconPack?: { data?: unknown } } | null;
  opts: { reviver?: unknown };
  emitReserved(event: "decoded", packet: unknown): void;
}

/** Where the decoder keeps an inbound event's size on the packet's data array (see wireSizeOf). */
const WIRE_SIZE = Symbol("pylon.wireSize");
type Sized = unknown[] & { [WIRE_SIZE]?: number };

function setWireSize(data: unknown, size: number): void {
  (data as Sized)[WIRE_SIZE] = size;
}

/**
 * The size of an inbound event as received: its text frame's length plus the bytes of its binary attachments (the
 * security stage's size and byte-rate limits). Set by PylonDecoder on the packet's `data` array, which socket.io
 * hands on as the event array to middlewares and dispatch; 0 for an array no PylonDecoder decoded.
 */
export function wireSizeOf(event: unknown[]): number {
  return (event as Sized)[WIRE_SIZE] ?? 0;
}

/**
 * socket.io's default parser (socket.io-parser 4, wire-identical) with a direct path for the packets that make up the
 * traffic: text EVENT and ACK packets are decoded by decodeTextPacket() without the reference decoder's per-character
 * Number() conversions and debug() calls; everything else (connect, disconnect, binary packets and their attachments,
 * anything decodeTextPacket() is not sure of) goes to socket.io-parser itself. Pinned by test/unit/parser.test.ts,
 * which compares both on a corpus of valid and malformed packets.
 * Every EVENT it decodes, on either path, carries its wire size (wireSizeOf).
 */
export class PylonDecoder extends Decoder {
  /**
   * The packet of a text frame when the direct decoder is sure of it (decodeTextPacket) and this decoder may use it
   * (not waiting for binary attachments, no reviver); undefined means "give the frame to add()". Also used by the
   * direct inbound path (src/transport/engine-internals.ts), which then skips add() and its "decoded" event.
   */
  decodeText(str: string): TextPacket | undefined {
    return this.#decodeText(str);
  }

  /** decodeText() for add() as well (not the overridable one: a subclass sees each frame once, in one of the two). */
  #decodeText(str: string): TextPacket | undefined {
    const self = this as unknown as DecoderInternals;
    if (self.reconstructor != null || self.opts.reviver !== undefined) return undefined;
    const packet = decodeTextPacket(str);
    if (packet !== undefined && packet.type === EVENT) setWireSize(packet.data, str.length);
    return packet;
  }

  override add(obj: unknown): void {
    if (typeof obj === "string") {
      const packet = this.#decodeText(obj);
      if (packet !== undefined) return (this as unknown as DecoderInternals).emitReserved("decoded", packet);
    } else {
      // a binary attachment: added to the size of the event it belongs to (tagged by decodeString below)
      const data = (this as unknown as DecoderInternals).reconstructor?.reconPack?.data as Sized | undefined;
      if (data !== undefined && data[WIRE_SIZE] !== undefined) data[WIRE_SIZE] += (obj as { byteLength?: number }).byteLength ?? 0;
    }
    super.add(obj);
  }
}

// socket.io-parser's add() decodes a text frame with `this.decodeString(str)` (private in its typings): the events it
// decodes (packets decodeTextPacket declined, binary event headers) are sized here, so no shape escapes the limits.
const referenceDecodeString = (Decoder.prototype as unknown as { decodeString(str: string): { type: number; data?: unknown } }).decodeString;
Object.defineProperty(PylonDecoder.prototype, "decodeString", {
  configurable: true,
  writable: true,
  value: function decodeString(this: unknown, str: string): { type: number; data?: unknown } {
    const packet = referenceDecodeString.call(this, str);
    if ((packet.type === EVENT || packet.type === BINARY_EVENT) && Array.isArray(packet.data)) setWireSize(packet.data, str.length);
    return packet;
  },
});

/** socket.io's default encoder with a direct path for plain-JSON EVENT / ACK packets (see encodeTextPacket). */
export class PylonEncoder extends Encoder {
  override encode(obj: Parameters<Parser.Encoder["encode"]>[0]): ReturnType<Parser.Encoder["encode"]> {
    if ((this as unknown as { replacer?: unknown }).replacer === undefined) {
      const str = encodeTextPacket(obj as OutPacket);
      if (str !== undefined) return [str];
    }
    return super.encode(obj);
  }
}

/**
 * encodeTextPacket() of an ACK packet `{ type: ACK, nsp, id, data }` without building the packet: the string
 * socket.io-parser builds for it when `data` is plain JSON, else undefined (then its own encoder decides).
 */
export function encodeAckText(nsp: string, id: number, data: unknown[]): string | undefined {
  return isPlainJson(data, 0) ? textOf(ACK, nsp, id, data) : undefined;
}

/** Whether `encoder` encodes exactly like encodeTextPacket() (a PylonEncoder without a replacer). */
export function encodesLikePylon(encoder: unknown): boolean {
  return encoder instanceof PylonEncoder && (encoder as unknown as { replacer?: unknown }).replacer === undefined;
}
