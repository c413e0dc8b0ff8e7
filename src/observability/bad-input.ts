import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type * as Parser from "socket.io-parser";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

// The parser's ESM entry resolves to its debug build under Node (every packet pays for debug() calls); load the CJS
// build, the very module socket.io itself uses.
const { Decoder, Encoder } = createRequire(import.meta.url)("socket.io-parser") as typeof Parser;

/**
 * socket.io's default parser with decode errors counted (pylon_socketio_parse_errors_total): bad JSON, unknown packet
 * type, binary data where a text packet was expected. socket.io then closes the connection ("forced close" at the
 * engine level, which alone does not tell it apart from a server-side close).
 * Used as the Server's public `parser` option; one instance per Pylon (the counter lives in its registry).
 */
export function countingParser(metrics: Metrics): { Encoder: typeof Encoder; Decoder: typeof Decoder } {
  const parseErrors = metrics.counter({
    name: "socketio_parse_errors_total",
    help: "Malformed Socket.IO packets (bad JSON, unknown packet type, unexpected binary); the connection is closed",
  });
  class CountingDecoder extends Decoder {
    override add(obj: unknown): void {
      try {
        super.add(obj);
      } catch (err) {
        parseErrors.inc();
        throw err;
      }
    }
  }
  return { Encoder, Decoder: CountingDecoder };
}

/**
 * engine.io answers a polling POST over maxHttpBufferSize with HTTP 413 and emits nothing: this engine-request hook
 * (UpgradeGate.onEngineRequest) counts it as pylon_engine_connection_errors_total{code="payload_too_large"}.
 */
export function oversizedPollingCounter(metrics: Metrics, logger: Logger): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method === "POST") {
      res.once("finish", () => {
        if (res.statusCode !== 413) return;
        metrics.engineErrors.inc({ code: "payload_too_large" });
        logger.debug({ event: "engine_error", code: "payload_too_large" }, "polling payload over maxHttpBufferSize");
      });
    }
    return false;
  };
}
