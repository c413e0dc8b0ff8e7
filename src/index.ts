export { createPylon, Pylon, type PylonOptions } from "./server/pylon.js";
export type { PylonContext, PylonModule } from "./server/module.js";
export { loadConfig, parseConfig, configReference, ConfigError, type PylonConfig, type PylonConfigInput } from "./config/index.js";
export { ERROR_CODES, PylonError, errorBody, type ErrorCode, type PylonErrorBody } from "./protocol/errors.js";
export { DemoModule } from "./demo/demo-namespace.js";
export { batch, Batcher, type BatchOptions, type BatchPayload, type BatchTarget } from "./flow/batch.js";
export { FlowModule } from "./flow/flow-module.js";
export { WritePathModule } from "./transport/write-path-module.js";
export { withFastPath } from "./transport/fast-path.js";
