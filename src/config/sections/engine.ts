import { z } from "zod";

export const TRANSPORT_POLICIES = ["websocket+polling", "websocket", "polling"] as const;
export type TransportPolicy = (typeof TRANSPORT_POLICIES)[number];

/** Engine.IO / Socket.IO options (see docs/operations.md for when to change them). */
export const engineSection = z
  .object({
    path: z.string().regex(/^\/[^?#]*$/, "must start with / and contain no ? or #").default("/socket.io/").meta({
      description: "HTTP path of the Engine.IO endpoint.",
    }),
    transports: z.enum(TRANSPORT_POLICIES).default("websocket+polling").meta({
      description:
        "Transport policy. websocket+polling: clients start on polling and upgrade (most compatible). websocket: no polling (needs no affinity at all). polling: no upgrade (for proxies that block WebSocket). Changeable at runtime with SIGHUP; new handshakes follow the new policy.",
    }),
    pingInterval: z.number().int().min(1000).max(300_000).default(25_000).meta({
      description: "Heartbeat period (ms). Proxy idle timeouts must exceed pingInterval + pingTimeout.",
    }),
    pingTimeout: z.number().int().min(1000).max(300_000).default(20_000).meta({
      description: "How long to wait for a pong before closing (ms). Raise for mobile networks with jitter.",
    }),
    connectTimeout: z.number().int().min(1000).max(300_000).default(45_000).meta({
      description: "How long a client may take to join a namespace after the handshake (ms).",
    }),
    upgradeTimeout: z.number().int().min(1000).max(300_000).default(10_000).meta({
      description: "How long an in-progress transport upgrade may take (ms).",
    }),
    maxHttpBufferSize: z.number().int().min(1024).max(100_000_000).default(1_000_000).meta({
      description:
        "Largest message (bytes) a client may send; larger ones close the connection (websocket) or get HTTP 413 (polling).",
    }),
    perMessageDeflate: z.boolean().default(false).meta({
      description: "WebSocket permessage-deflate. Costs CPU and memory per connection; off by default.",
    }),
    perMessageDeflateThreshold: z.number().int().min(0).max(10_000_000).default(1024).meta({
      description: "Only compress messages at least this many bytes (when perMessageDeflate is on).",
    }),
    httpCompression: z.boolean().default(true).meta({
      description: "gzip/deflate for polling responses above 1 KB.",
    }),
    allowEIO3: z.boolean().default(false).meta({
      description: "Accept Engine.IO v3 clients (socket.io-client v2). Off: they get an 'unsupported protocol version' error.",
    }),
    corsOrigins: z.array(z.string().min(1)).default([]).meta({
      description:
        "Origins allowed by CORS and on the WebSocket upgrade (exact origins like https://app.example.com, or * for any). Empty: same-origin and non-browser clients only.",
    }),
    serveClient: z.boolean().default(true).meta({
      description: "Serve the official browser client at <path>socket.io.js (the demo page uses it).",
    }),
    freeHandshakeRequest: z.boolean().default(true).meta({
      description:
        "After a socket connects, release the HTTP request that opened it (about 1-2 KB per connection). socket.handshake stays intact; socket.request becomes a small stand-in with headers, url, method and socket.remoteAddress/remotePort (see docs/flow-control.md). Turn off if a middleware needs the full IncomingMessage after connect.",
    }),
  })
  .strict();
