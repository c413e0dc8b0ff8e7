import { randomBytes } from "node:crypto";

/**
 * Engine.IO session ids that name their owning node: `<nodeId>.<20 random base64url chars>`. A node id is
 * [A-Za-z0-9_-]{1,32} and base64url never contains ".", so the owner is everything before the first dot.
 */
export function sessionIdFor(nodeId: string): string {
  return `${nodeId}.${randomBytes(15).toString("base64url")}`;
}

/** The owner node of a session id, or undefined for ids that carry none (plain engine.io ids, garbage). */
export function ownerOf(sid: string): string | undefined {
  const dot = sid.indexOf(".");
  if (dot <= 0 || dot > 32) return undefined;
  const owner = sid.slice(0, dot);
  return /^[A-Za-z0-9_-]+$/.test(owner) ? owner : undefined;
}

/** The `sid` query parameter of an engine request URL, if any. */
export function sidOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  const sid = new URLSearchParams(url.slice(q + 1)).get("sid");
  return sid && sid.length <= 128 ? sid : undefined;
}
