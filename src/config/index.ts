export { configSchema, type PylonConfig, type PylonConfigInput } from "./schema.js";
export { loadConfig, loadConfigFromProcess, parseConfig, maskSecrets, ConfigError, type ConfigIssue, type LoadOptions, type LoadedConfig } from "./loader.js";
export { configReference } from "./docs.js";
export { TRANSPORT_POLICIES, type TransportPolicy } from "./sections/engine.js";
