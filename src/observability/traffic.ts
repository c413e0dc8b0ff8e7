import type { Socket } from "socket.io";
import type { NamespaceTallies } from "./event-tally.js";
import type { Metrics } from "./metrics.js";

type AnyFn = (...args: unknown[]) => unknown;

const CLIENT_TO_SERVER = { direction: "client_to_server" } as const;
const SERVER_TO_CLIENT = { direction: "server_to_client" } as const;

/**
 * Per-socket traffic instruments, installed once per connection (two closures per socket):
 *  - events in (first socket middleware, so events later refused by validation or rate limits still count) and the
 *    client_to_server ack latency (event received -> the handler's ack called);
 *  - events out (onAnyOutgoing: socket emits and each broadcast delivery);
 *  - server_to_client ack latency for `socket.emit(..., ack)` / `emitWithAck` (socket.emit is wrapped on the instance;
 *    broadcast acks `io.timeout().emit(..., cb)` are not measured). Acks that time out are not observed.
 * The hot path is one Map lookup and one increment; ack timing allocates one closure per acked event.
 */
export function instrumentSocket(socket: Socket, tallies: NamespaceTallies, metrics: Metrics): void {
  const ackLatency = metrics.ackLatency;
  socket.use((packet, next) => {
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
  });
  socket.onAnyOutgoing((event: string) => {
    tallies.get(event).out++;
  });
  const emit = socket.emit;
  socket.emit = function timedEmit(this: Socket) {
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
    return (emit as AnyFn).apply(this, args) as boolean;
  } as Socket["emit"];
}
