import type { IncomingMessage, ServerResponse } from "node:http";
import { PylonDecoder, PylonEncoder } from "../protocol/parser.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * socket.io's default parser (with Pylon's direct path for text EVENT / ACK packets, src/protocol/parser.ts) with the
 * bytes received counted (pylon_bytes_in_total) and decode errors counted (pylon_socketio_parse_errors_total): bad JSON, unknown packet
 * type, binary data where a text packet was expected. socket.io then closes the connection ("forced close" at the
 * engine level, which alone does not tell it apart from a server-side close).
 * Used as the Server's public `parser` option; one instance per Pylon (the counter lives in its registry).
 */
export function countingParser(metrics: Metrics): { Encoder: typeof PylonEncoder; Decoder: typeof PylonDecoder } {
  const parseErrors = metrics.counter({
    name: "socketio_parse_errors_total",
    help: "Malformed Socket.IO packets (bad JSON, unknown packet type, unexpected binary); the connection is closed",
  });
  class CountingDecoder extends PylonDecoder {
    // every frame of a connection reaches the decoder once, through add() (socket.io's path) or, on the direct inbound
    // path, through decodeText() when it decodes the frame (a frame it declines then goes to add()): its bytes feed
    // pylon_bytes_in_total
    override decodeText(str: string): ReturnType<PylonDecoder["decodeText"]> {
      const packet = super.decodeText(str);
      if (packet !== undefined) metrics.bytesInCount += Buffer.byteLength(str);
      return packet;
    }

    override add(obj: unknown): void {
      metrics.bytesInCount += typeof obj === "string" ? Buffer.byteLength(obj) : ((obj as { byteLength?: number }).byteLength ?? 0);
      try {
        super.add(obj);
      } catch (err) {
        parseErrors.inc();
        throw err;
      }
    }
  }
  return { Encoder: PylonEncoder, Decoder: CountingDecoder };
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
