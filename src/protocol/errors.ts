/**
 * Every error code Pylon sends to clients or uses as a close/disconnect reason, with its message and whether it
 * may cross the wire. docs/errors.md documents each; a unit test keeps the two in step.
 * Feature modules add their codes here (one registry, never ad-hoc strings).
 */
export const ERROR_CODES = {
  draining: { message: "server is draining; reconnect to another node", wire: true },
  origin_not_allowed: { message: "Origin is not in the allowlist", wire: true },
  invalid_namespace: { message: "Invalid namespace", wire: true },
  invalid_payload: { message: "payload does not match the event's schema", wire: true },
  internal_error: { message: "internal error", wire: true },
  transport_not_allowed: { message: "this transport is not allowed by the server's transport policy", wire: true },
  token_missing: { message: "an access token is required", wire: true },
  token_expired: { message: "the access token has expired", wire: true },
  token_invalid: { message: "the access token is invalid", wire: true },
  forbidden: { message: "not allowed", wire: true },
  unknown_event: { message: "unknown event", wire: true },
  payload_too_large: { message: "payload exceeds the size or depth limit", wire: true },
  rate_limited: { message: "rate limit exceeded; retry later", wire: true },
  invalid_stream: { message: "invalid stream name", wire: true },
  subscribe_forbidden: { message: "not allowed to subscribe to this stream", wire: true },
  publish_forbidden: { message: "not allowed to publish to this stream", wire: true },
  log_unavailable: { message: "the stream log is unavailable; retry later", wire: true },
  unknown_command: { message: "no handler for this command", wire: true },
  command_failed: { message: "the command handler failed", wire: true },
  resync_required: { message: "the position cannot be continued without a hole; reload and continue from the head", wire: true },
  overloaded: { message: "too many events in flight for this connection; retry later", wire: true },
  slow_consumer: { message: "the connection was closed because it did not read its messages fast enough", wire: true },
  bad_request: { message: "malformed request", wire: true },
  backplane_unavailable: { message: "the backplane did not answer in time; retry later", wire: true },
  unauthorized: { message: "a valid admin token is required (Authorization: Bearer <admin.token>)", wire: true },
} as const satisfies Record<string, { message: string; wire: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The error payload carried by error acks and connect_error `data`: `{ code, message }`. */
export interface PylonErrorBody {
  code: ErrorCode;
  message: string;
  /** Extra, code-specific fields (e.g. retryAfterMs, path). */
  [extra: string]: unknown;
}

export function errorBody(code: ErrorCode, extra: Record<string, unknown> = {}): PylonErrorBody {
  return { code, message: ERROR_CODES[code].message, ...extra };
}

/** An Error whose `data` socket.io forwards to the client's connect_error (middleware errors). */
export class PylonError extends Error {
  readonly data: PylonErrorBody;
  constructor(code: ErrorCode, extra: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(ERROR_CODES[code].message, options);
    this.name = "PylonError";
    this.data = errorBody(code, extra);
  }
  get code(): ErrorCode {
    return this.data.code;
  }
}
