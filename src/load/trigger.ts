import { createClient, type ClientSpec, type LoadClient } from "./clients.js";

/**
 * What makes the server broadcast. The load engine only needs "send this text to that room"; how is up to the trigger:
 * a client that joined the room and says something (the demo contract), or later an HTTP publish API (the canary).
 */
export interface BroadcastTrigger {
  /** Gets ready to broadcast to these rooms (e.g. joins them). */
  prepare(rooms: readonly string[]): Promise<void>;
  /** Sends one broadcast of `text` to `room`; must not wait for anything. */
  fire(room: string, text: string): void;
  /** True when the trigger is itself a member of the rooms and receives its own broadcasts (one more delivery each). */
  readonly isMember: boolean;
  close(): Promise<void>;
}

/** Broadcasts through the demo contract: a client of its own joins every room and emits `say {room, text}`. */
export class ClientTrigger implements BroadcastTrigger {
  readonly isMember = true;
  readonly #spec: ClientSpec;
  #client: LoadClient | undefined;
  readonly #joined = new Set<string>();

  constructor(spec: Omit<ClientSpec, "transport">) {
    this.#spec = { ...spec, transport: "websocket" };
  }

  async prepare(rooms: readonly string[]): Promise<void> {
    if (!this.#client?.connected) {
      this.#client?.close();
      this.#joined.clear();
      const c = createClient(this.#spec);
      await new Promise<void>((resolve, reject) => c.connect((err) => (err ? reject(err) : resolve())));
      this.#client = c;
    }
    const client = this.#client;
    await Promise.all(
      rooms
        .filter((r) => !this.#joined.has(r))
        .map(
          (room) =>
            new Promise<void>((resolve, reject) =>
              client.join(room, (err) => {
                if (err) return reject(err);
                this.#joined.add(room);
                resolve();
              }),
            ),
        ),
    );
  }

  fire(room: string, text: string): void {
    this.#client?.say(room, text);
  }

  async close(): Promise<void> {
    this.#client?.close();
    this.#client = undefined;
    this.#joined.clear();
  }
}
