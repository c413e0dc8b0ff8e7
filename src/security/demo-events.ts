import type { EventSpecs } from "./schemas.js";

const ROOM = { type: "string", pattern: "^[A-Za-z0-9_:.-]{1,64}$" } as const;

/**
 * Schemas of the demo namespace's events (echo, join, say), validated by default. Any other event on /demo is
 * refused with unknown_event. `join`'s room goes through room authorization when security.jwt is on.
 */
export const DEMO_EVENTS: EventSpecs = {
  echo: { schema: {}, maxBytes: 16_384, maxDepth: 8 },
  join: { schema: ROOM, room: "." , maxBytes: 1024 },
  say: {
    schema: {
      type: "object",
      required: ["room", "text"],
      additionalProperties: false,
      properties: { room: ROOM, text: { type: "string", maxLength: 4096 } },
    },
    maxBytes: 16_384,
  },
};
