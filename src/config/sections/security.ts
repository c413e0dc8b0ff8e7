import { z } from "zod";

/** Algorithms a token may be signed with. `none` is not representable. HS256 only with jwt.hmacSecret. */
export const JWT_ALGORITHMS = ["RS256", "ES256", "EdDSA", "HS256"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const jwtSection = z
  .object({
    mode: z.enum(["off", "optional", "required"]).default("off").meta({
      description:
        "JWT at the handshake. off: no authentication (demo default). required: every namespace connect needs a valid token (production). optional: a token, when given, must be valid; without one the socket is anonymous.",
    }),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(["RS256", "ES256", "EdDSA"]).meta({
      description: "Accepted signature algorithms (allowlist). `none` is never accepted; HS256 needs jwt.hmacSecret.",
    }),
    publicKeyFile: z.string().default("").meta({
      description: "File with the verification key: PEM (SPKI public key), one JWK, or a JWK Set (kid selection).",
    }),
    publicKey: z.string().default("").meta({
      description: "The verification key inline (PEM or JWK/JWKS JSON), e.g. from the environment.",
    }),
    jwksUrl: z.string().default("").meta({
      description:
        "JWKS endpoint (https in production). Keys are cached, selected by kid, and refetched when an unknown kid shows up (at most once per jwksCooldownMs), so key rotation needs no restart.",
    }),
    jwksCacheMaxAgeMs: z.number().int().min(1000).max(86_400_000).default(600_000).meta({
      description: "How long a fetched JWKS is trusted before it is fetched again (ms).",
    }),
    jwksCooldownMs: z.number().int().min(0).max(3_600_000).default(30_000).meta({
      description: "Minimum time between two JWKS fetches (rate limit of refetch on unknown kid) (ms).",
    }),
    jwksTimeoutMs: z.number().int().min(100).max(60_000).default(5000).meta({
      description: "HTTP timeout of one JWKS fetch (ms).",
    }),
    hmacSecret: z.string().default("").meta({
      description: "Shared secret for HS256 (at least 32 bytes). Only used when HS256 is in jwt.algorithms.",
      secret: true,
    }),
    issuer: z.string().default("").meta({ description: "Required `iss` claim (empty: not checked; set it in production)." }),
    audience: z.string().default("").meta({ description: "Required `aud` claim (empty: not checked; set it in production)." }),
    clockToleranceSec: z.number().int().min(0).max(600).default(30).meta({
      description: "Clock skew tolerated when checking exp and nbf (seconds).",
    }),
    requireExp: z.boolean().default(true).meta({ description: "Refuse tokens without an `exp` claim." }),
    rolesClaim: z.string().min(1).default("roles").meta({
      description: "Claim holding the user's roles (array of strings or a space-separated string).",
    }),
    queryParam: z.string().default("").meta({
      description:
        "Also read the token from this handshake query parameter (empty: disabled; query strings end up in proxy logs, prefer auth.token).",
    }),
    disconnectOnExpiry: z.boolean().default(true).meta({
      description: "Disconnect a socket (reason token_expired) when its token expires, unless it refreshed with auth:refresh.",
    }),
  })
  .strict();

const ruleEntry = z
  .object({
    pattern: z.string().min(1).meta({
      description:
        "Room or stream name pattern: literal text, {sub} (the user's id), {claims.NAME} (a claim), * (any rest). Example: tenant:{claims.tenant}:*",
    }),
    roles: z.array(z.string()).default([]).meta({ description: "Roles of which the user needs at least one (empty: none needed)." }),
    kinds: z.array(z.enum(["room", "stream"])).default(["room", "stream"]).meta({ description: "What the rule applies to." }),
  })
  .strict();

const authzSection = z
  .object({
    adminRoles: z.array(z.string()).default(["admin"]).meta({
      description: "Roles allowed everything: every namespace, room and stream.",
    }),
    rules: z.array(ruleEntry).max(256).default([
      { pattern: "user:{sub}", roles: [], kinds: ["room", "stream"] },
      { pattern: "user:*", roles: ["admin"], kinds: ["room", "stream"] },
      { pattern: "tenant:{claims.tenant}:*", roles: [], kinds: ["room", "stream"] },
      { pattern: "tenant:*", roles: ["admin"], kinds: ["room", "stream"] },
      { pattern: "admin:*", roles: ["admin"], kinds: ["room", "stream"] },
    ]).meta({
      description:
        "Room/stream rules, first matching pattern decides (when a user is authenticated). A pattern matches by shape (placeholders as wildcards); the user must then fill the placeholders with their own values and hold one of the roles.",
    }),
    unmatched: z.enum(["allow", "deny"]).default("allow").meta({
      description: "Rooms/streams no rule matches: allow (demo default) or deny (recommended in production, list public patterns as rules).",
    }),
  })
  .strict();

const eventLimit = z.object({ perSec: z.number().min(0.001), burst: z.number().int().min(1) }).strict();

const rateLimitSection = z
  .object({
    enabled: z.boolean().default(false).meta({
      description: "Token-bucket rate limits on handshakes (per client IP), events and bytes (per socket). Off by default; turn on in production.",
    }),
    handshakesPerSec: z.number().min(0.001).max(1_000_000).default(10).meta({ description: "Handshakes per second per client IP (refill rate)." }),
    handshakeBurst: z.number().int().min(1).max(1_000_000).default(30).meta({ description: "Handshake bucket size per client IP." }),
    eventsPerSec: z.number().min(0.001).max(1_000_000).default(200).meta({ description: "Events per second per socket (all events)." }),
    eventBurst: z.number().int().min(1).max(1_000_000).default(400).meta({ description: "Event bucket size per socket." }),
    bytesPerSec: z.number().min(1).max(1_000_000_000).default(1_000_000).meta({ description: "Inbound bytes per second per socket." }),
    byteBurst: z.number().int().min(1).max(1_000_000_000).default(2_000_000).meta({ description: "Inbound byte bucket size per socket." }),
    perEvent: z.record(z.string(), eventLimit).default({}).meta({
      description: 'Extra limits per event name, e.g. { "say": { "perSec": 5, "burst": 10 } }.',
    }),
    disconnectAfter: z.number().int().min(1).max(1_000_000).default(200).meta({
      description:
        "Sustained abuse: a socket whose limited events exceed this many (the strike bucket refills at a tenth of this per second) is disconnected with reason rate_limited.",
    }),
    store: z.enum(["memory", "redis"]).default("memory").meta({
      description: "Where per-IP handshake buckets live: memory (per node) or redis (shared by all nodes, uses cluster.redisUrl).",
    }),
  })
  .strict();

const eventsSection = z
  .object({
    validate: z.boolean().default(true).meta({
      description:
        "Validate events of namespaces that declare schemas (the demo's by default). Off: schemas, unknown-event refusal and size/depth limits are skipped (benchmark baseline only).",
    }),
    rejectUnknown: z.boolean().default(true).meta({
      description: "In a namespace that declares event schemas, events without a schema are refused with unknown_event.",
    }),
    maxBytes: z.number().int().min(64).max(100_000_000).default(65_536).meta({
      description: "Largest inbound event (bytes as received) unless the event's schema sets its own (payload_too_large).",
    }),
    maxDepth: z.number().int().min(1).max(1000).default(32).meta({
      description: "Deepest nesting of objects/arrays accepted in a validated event (payload_too_large).",
    }),
    schemas: z
      .record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown())))
      .default({})
      .meta({
        description:
          'Event schemas by namespace then event: { "/chat": { "post": { "schema": <JSON Schema of the payload>, "maxBytes": 4096, "room": "room" } } }. Compiled once with ajv. Code can declare zod schemas too.',
      }),
  })
  .strict();

/** Handshake and per-event security. Owned by src/security (issue 6). See docs/security.md. */
export const securitySection = z
  .object({
    jwt: jwtSection.prefault({}),
    authz: authzSection.prefault({}),
    rateLimit: rateLimitSection.prefault({}),
    events: eventsSection.prefault({}),
  })
  .strict();
