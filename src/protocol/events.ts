/** Structural twin of socket.io's (unexported) EventsMap: event name -> listener signature. */
export interface EventsMap {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [event: string]: any;
}
