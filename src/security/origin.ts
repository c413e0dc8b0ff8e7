import type { IncomingMessage } from "node:http";
import type { Refusal } from "../server/admission.js";

/**
 * Origin policy for handshakes (polling and the WebSocket upgrade alike).
 * - no Origin header (non-browser clients): allowed;
 * - Origin equal to the request's own host (same origin): allowed;
 * - otherwise the Origin must be in the allowlist ("*" allows any).
 */
export function originCheck(allowlist: readonly string[]): (req: IncomingMessage) => Refusal | null {
  const any = allowlist.includes("*");
  const allowed = new Set(allowlist.map((o) => o.toLowerCase().replace(/\/$/, "")));
  return (req) => {
    const origin = req.headers.origin;
    if (!origin || any) return null;
    const normalized = origin.toLowerCase();
    if (allowed.has(normalized)) return null;
    try {
      const host = req.headers.host?.toLowerCase();
      if (host && new URL(normalized).host === host) return null;
    } catch {
      // unparsable Origin: refused below
    }
    return { reason: "origin_not_allowed" };
  };
}
