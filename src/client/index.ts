export { PylonClient, PylonClientError, type PylonClientOptions, type SubscribeOptions, type MessageHandler, type MessageMeta, type CommandOptions, type ClientEvents, type ClientStats } from "./pylon-client.js";
export { memoryPositions, localStoragePositions, type PositionStore } from "./positions.js";
export { STREAM_EVENTS, type StreamMessage, type ResyncNotice, type StreamPosition } from "../protocol/streams.js";
