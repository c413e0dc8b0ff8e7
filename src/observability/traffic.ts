import { Socket } from "socket.io";
import type { NamespaceTallies } from "./event-tally.js";
import type { Metrics } from "./metrics.js";
import type { NamespaceStage } from "../server/event-pipeline.js";

type AnyFn = (...args: unknown[]) => unknown;

const CLIENT_TO_SERVER = { direction: "client_to_server" } as const;
const SERVER_TO_CLIENT = { direction: "server_to_client" } as const;
const protoEmit = Socket.prototype.emit as unknown as AnyFn;

/**
 * Per-socket traffic instruments. Created once per namespace and shared by all its sockets, so a connection costs no
 * closure of its own (socket.io's outgoing-listener array and an own `emit`):
 *  - events in: the first stage of the inbound event pipeline (src/server/event-pipeline.ts), so events later
 *    refused by validation or rate limits still count; the pipeline tells it when the handler acks
 *    (client_to_server: event received -> the handler's ack called);
 *  - events out: onAnyOutgoing (socket emits and each broadcast delivery);
 *  - server_to_client ack latency for `socket.emit(..., ack)` / `emitWithAck`: socket.emit is replaced on the instance
 *    by a shared function that wraps a trailing ack; broadcast acks (`io.timeout().emit(..., cb)`) are not measured.
 *    Acks that time out are not observed.
 * The hot path is one Map lookup and one increment; an ack is one bucket increment (BucketHistogram).
 */
export class SocketInstruments {
  /** The inbound stage of this namespace (order 0 in the event pipeline). */
  readonly stage: NamespaceStage;
  readonly #outbound: (event: string) => void;
  readonly #emit: AnyFn;

  constructor(tallies: NamespaceTallies, metrics: Metrics) {
    const clientToServer = metrics.ackLatency.series(CLIENT_TO_SERVER);
    const serverToClient = metrics.ackLatency.series(SERVER_TO_CLIENT);
    this.stage = {
      attach: (socket) => {
        this.attach(socket);
        return undefined;
      },
      onEvent(_socket, ev) {
        tallies.get(ev.name as string).in++;
        return true;
      },
      onAck(_socket, ev) {
        clientToServer.observe((ev.ackedAt - ev.receivedAt) / 1000);
      },
    };
    this.#outbound = (event: string) => {
      tallies.get(event).out++;
    };
    this.#emit = function timedEmit(this: Socket) {
      // eslint-disable-next-line prefer-rest-params
      const args = arguments as unknown as unknown[];
      const last = args.length - 1;
      if (last > 0 && typeof args[last] === "function") {
        const ack = args[last] as AnyFn;
        const t0 = performance.now();
        args[last] = function timedClientAck(this: unknown, ...res: unknown[]) {
          if (!(res[0] instanceof Error)) serverToClient.observe((performance.now() - t0) / 1000);
          return ack.apply(this, res);
        };
      }
      return protoEmit.apply(this, args);
    };
  }

  /** Outbound instruments of a newly connected socket (the pipeline stage calls it; inbound events come via `stage`). */
  attach(socket: Socket): void {
    socket.onAnyOutgoing(this.#outbound);
    socket.emit = this.#emit as Socket["emit"];
  }
}
