// The library API for CI masters and for configs written in TypeScript.
export { LatentWorkerClient, LifecycleEndedError, UnknownLifecycleError, PHASE_ORDER, hasReached, type LifecycleSummary, type SignalOptions, type StartedLifecycle, type SubstantiateOptions, type Unattended, type WatchOptions } from './client/api.js';
export { lifecycleInputSchema, inputProblems } from './contract/inputSchema.js';
export { DEFAULT_TASK_QUEUE, FAILURE_TYPES, LIFECYCLE_WORKFLOW_TYPE, OUTCOMES, PHASES, QUERIES, SEARCH_ATTRIBUTES, SIGNALS, workflowIdFor } from './contract/names.js';
export { ConnectionSettingError, connectionOptions, describeConnection, temporalSettings, type ConnectionFlags, type TemporalSettings } from './client/settings.js';
export { ConnectionFailedError } from './client/connectionDiagnosis.js';
export { describeSetup, ensureSetup, type SetupOptions, type SetupReport } from './client/setup.js';
export { codecFromEnv, dataConverterFromEnv, EncryptionKeyError, PayloadDecryptionError } from './codec/index.js';
export { ConfigError, findConfigFile, loadConfigFile, type LoadedConfig, type ResolvedWorker } from './config/load.js';
export type { ImageFunction } from './config/serverOptions.js';
export type { Image } from './openstack/index.js';
export type { LifecycleInput, LifecycleResult, LifecycleStatus, Outcome, Phase, WorkerSpec } from './workflows/types.js';

/** Types a config written in TypeScript (latent.config.ts); returns it unchanged. */
export function defineConfig<T extends { workers: unknown[] }>(config: T): T {
  return config;
}
