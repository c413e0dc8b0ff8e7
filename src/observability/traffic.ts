import { Socket } from "socket.io";
import type { NamespaceTallies } from "./event-tally.js";
import type { Metrics } from "./metrics.js";

type AnyFn = (...args: unknown[]) => unknown;
type Middleware = Parameters<Socket["use"]>[0];

const CLIENT_TO_SERVER = { direction: "client_to_server" } as const;
const SERVER_TO_CLIENT = { direction: "server_to_client" } as const;
const protoEmit = Socket.prototype.emit as unknown as AnyFn;

/**
 * Per-socket traffic instruments. The three functions are created once per namespace and shared by all its sockets,
 * so a connection costs no closure of its own (an array slot, socket.io's outgoing-listener array, an own `emit`):
 *  - events in: the first socket middleware (events later refused by validation or rate limits still count), which
 *    also wraps the client's ack to time it (client_to_server: event received -> the handler's ack called);
 *  - events out: onAnyOutgoing (socket emits and each broadcast delivery);
 *  - server_to_client ack latency for `socket.emit(..., ack)` / `emitWithAck`: socket.emit is replaced on the instance
 *    by a shared function that wraps a trailing ack; broadcast acks (`io.timeout().emit(..., cb)`) are not measured.
 *    Acks that time out are not observed.
 * The hot path is one Map lookup and one increment; timing an ack allocates one closure.
 */
export class SocketInstruments {
  readonly #inbound: Middleware;
  readonly #outbound: (event: string) => void;
  readonly #emit: AnyFn;

  constructor(tallies: NamespaceTallies, metrics: Metrics) {
    const ackLatency = metrics.ackLatency;
    this.#inbound = (packet, next) => {
      tallies.get(packet[0] as string).in++;
      const last = packet.length - 1;
      if (last > 0 && typeof packet[last] === "function") {
        const ack = packet[last] as AnyFn;
        const t0 = performance.now();
        packet[last] = function timedAck(this: unknown, ...args: unknown[]) {
          ackLatency.observe(CLIENT_TO_SERVER, (performance.now() - t0) / 1000);
          return ack.apply(this, args);
        };
      }
      next();
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
          if (!(res[0] instanceof Error)) ackLatency.observe(SERVER_TO_CLIENT, (performance.now() - t0) / 1000);
          return ack.apply(this, res);
        };
      }
      return protoEmit.apply(this, args);
    };
  }

  /** Installs the instruments on a newly connected socket (call first in the namespace's connection handler). */
  attach(socket: Socket): void {
    socket.use(this.#inbound);
    socket.onAnyOutgoing(this.#outbound);
    socket.emit = this.#emit as Socket["emit"];
  }
}
