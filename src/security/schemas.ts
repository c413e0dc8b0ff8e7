import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { PylonConfig } from "../config/index.js";
import { RESERVED_PREFIX } from "../protocol/streams.js";

type EventsConfig = PylonConfig["security"]["events"];

/** A zod-like schema: anything with safeParse returning { success, data | error.issues }. */
export interface ZodLike {
  safeParse(value: unknown): { success: true; data: unknown } | { success: false; error: { issues: readonly { path: readonly PropertyKey[] }[] } };
}

/** One declared event of a namespace. */
export interface EventSpec {
  /** Schema of the payload (the first argument): a JSON Schema object (compiled with ajv) or a zod schema. */
  schema: Record<string, unknown> | ZodLike;
  /** Largest accepted event in bytes (as received); default security.events.maxBytes. */
  maxBytes?: number;
  /** Deepest accepted nesting; default security.events.maxDepth. */
  maxDepth?: number;
  /**
   * Path (dotted) of a room name inside the payload that the handler will join: the room is authorized before the
   * handler runs. "." means the payload itself is the room name.
   */
  room?: string;
}

export type EventSpecs = Record<string, EventSpec>;

/** Result of validating one event: ok (with the data the handler should see) or a wire code with details. */
export type ValidationResult =
  | { ok: true; payload: unknown }
  | { ok: false; code: "invalid_payload" | "payload_too_large" | "unknown_event"; extra: Record<string, unknown> };

/** One compiled event spec (look it up once per event with `spec()`). */
export interface CompiledEvent {
  readonly validate: (payload: unknown) => { ok: true; payload: unknown } | { ok: false; path: string };
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly room: string | undefined;
}

const isZod = (s: unknown): s is ZodLike => typeof (s as ZodLike | null)?.safeParse === "function";

function ajvPath(e: ErrorObject): string {
  const missing = e.keyword === "required" ? (e.params as { missingProperty?: string }).missingProperty : undefined;
  const extra = e.keyword === "additionalProperties" ? (e.params as { additionalProperty?: string }).additionalProperty : undefined;
  const tail = missing ?? extra;
  return (e.instancePath || "") + (tail ? `/${tail}` : "") || "/";
}

/** Whether `value` nests deeper than `max` objects/arrays (iterative; stops early). */
export function deeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== "object") return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) return true;
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) continue;
    const children = Array.isArray(v) ? v : Object.values(v as object);
    for (const c of children) if (c !== null && typeof c === "object") stack.push([c, d + 1]);
  }
  return false;
}

/** Reads a dotted path in a payload ("." = the payload itself). */
export function valueAt(payload: unknown, path: string): unknown {
  if (path === "." || path === "") return payload;
  let cur = payload;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Per-namespace event validation, compiled once at setup: the payload (first argument) is checked against the
 * event's schema; an event without a schema in a namespace that declares schemas is unknown_event (when
 * security.events.rejectUnknown). Extra non-function arguments are refused. zod schemas hand the parsed data on.
 */
export class EventValidator {
  readonly #namespaces = new Map<string, Map<string, CompiledEvent>>();
  readonly #ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
  readonly #config: EventsConfig;

  constructor(config: EventsConfig, codeSpecs: Record<string, EventSpecs> = {}) {
    this.#config = config;
    for (const [ns, events] of Object.entries(codeSpecs)) this.define(ns, events);
    for (const [ns, events] of Object.entries(config.schemas)) {
      this.define(ns, events as unknown as EventSpecs, `security.events.schemas["${ns}"]`);
    }
  }

  /** Declares (or overrides) the events of a namespace. Throws naming the event when a schema does not compile. */
  define(namespace: string, events: EventSpecs, source = `namespace ${namespace}`): void {
    const map = this.#namespaces.get(namespace) ?? new Map<string, CompiledEvent>();
    for (const [event, spec] of Object.entries(events)) {
      if (!spec || typeof spec !== "object" || !spec.schema || typeof spec.schema !== "object") {
        throw new Error(`${source}.${event}: needs a "schema" (JSON Schema object or zod schema)`);
      }
      map.set(event, this.#compile(spec, `${source}.${event}`));
    }
    this.#namespaces.set(namespace, map);
  }

  #compile(spec: EventSpec, where: string): CompiledEvent {
    let validate: CompiledEvent["validate"];
    if (isZod(spec.schema)) {
      const zs = spec.schema;
      validate = (payload) => {
        const r = zs.safeParse(payload);
        if (r.success) return { ok: true, payload: r.data };
        const path = r.error.issues[0]?.path ?? [];
        return { ok: false, path: "/" + path.map(String).join("/") };
      };
    } else {
      let fn: ValidateFunction;
      try {
        fn = this.#ajv.compile(spec.schema);
      } catch (err) {
        throw new Error(`${where}: invalid JSON Schema (${(err as Error).message})`);
      }
      validate = (payload) => (fn(payload) ? { ok: true, payload } : { ok: false, path: fn.errors?.[0] ? ajvPath(fn.errors[0]) : "/" });
    }
    return {
      validate,
      maxBytes: spec.maxBytes ?? this.#config.maxBytes,
      maxDepth: spec.maxDepth ?? this.#config.maxDepth,
      room: spec.room,
    };
  }

  /** The events of a namespace when it is validated (undefined: not validated), to look up once per socket. */
  events(namespace: string): ReadonlyMap<string, CompiledEvent> | undefined {
    return this.validates(namespace) ? this.#namespaces.get(namespace) : undefined;
  }

  /** Whether the namespace declares schemas (then every event is validated). */
  validates(namespace: string): boolean {
    return this.#config.validate && (this.#namespaces.get(namespace)?.size ?? 0) > 0;
  }

  /** The byte limit for an event (its own, or the default). */
  maxBytes(namespace: string, event: string): number {
    return this.#namespaces.get(namespace)?.get(event)?.maxBytes ?? this.#config.maxBytes;
  }

  /** The room path declared for an event, if any. */
  roomPath(namespace: string, event: string): string | undefined {
    return this.#namespaces.get(namespace)?.get(event)?.room;
  }

  /**
   * Validates the arguments of one event (ack function excluded). On success `payload` replaces args[0]
   * (zod may transform it). Namespaces without schemas always pass.
   */
  check(namespace: string, event: string, args: readonly unknown[]): ValidationResult {
    const events = this.#namespaces.get(namespace);
    if (!events || events.size === 0) return { ok: true, payload: args[0] };
    return this.checkIn(events, event, args, 0);
  }

  /**
   * Validates against a namespace's events (from `events()`): `packet[from]` is the first data argument.
   * An ack function (last element) is not a data argument; the caller puts the returned payload back.
   */
  checkIn(events: ReadonlyMap<string, CompiledEvent>, event: string, packet: readonly unknown[], from: number): ValidationResult {
    const args = packet;
    const spec = events.get(event);
    // reserved pylon:* events (streams, commands) are validated by the module that owns them
    if (!spec && event.startsWith(RESERVED_PREFIX)) return { ok: true, payload: args[from] };
    if (!spec) {
      return this.#config.rejectUnknown ? { ok: false, code: "unknown_event", extra: {} } : { ok: true, payload: args[from] };
    }
    const dataArgs = (typeof args[args.length - 1] === "function" ? args.length - 1 : args.length) - from;
    if (dataArgs > 1) return { ok: false, code: "invalid_payload", extra: { path: `/args/${dataArgs - 1}` } };
    const payload = dataArgs >= 1 ? args[from] : undefined;
    if (deeperThan(payload, spec.maxDepth)) return { ok: false, code: "payload_too_large", extra: { limit: "depth", maxDepth: spec.maxDepth } };
    const r = spec.validate(payload);
    if (!r.ok) return { ok: false, code: "invalid_payload", extra: { path: r.path } };
    return r;
  }
}
