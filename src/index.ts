export { createPylon, Pylon, type PylonOptions } from "./server/pylon.js";
export type { PylonContext, PylonModule } from "./server/module.js";
export { loadConfig, parseConfig, configReference, ConfigError, type PylonConfig, type PylonConfigInput } from "./config/index.js";
export { ERROR_CODES, PylonError, errorBody, type ErrorCode, type PylonErrorBody } from "./protocol/errors.js";
export { DemoModule } from "./demo/demo-namespace.js";
