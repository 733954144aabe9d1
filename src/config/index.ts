/** The configuration: schema, loader, problem formatting, masking. */
export { loadConfig, parseConfig, type ParseConfigOptions } from './load.js';
export { formatProblems, problemsOf, type ConfigProblem, type ConfigWarning } from './problems.js';
export { maskSecrets } from './mask.js';
export { changesNeedingRestart } from './reload-policy.js';
export { configSchema, type ConfigInput, type ParsedConfig } from './schema/index.js';
export { configJsonSchema } from './json-schema.js';
export type { EdgeConfig, EdgeSettings, LoadedConfig, LogLevel } from './types.js';
