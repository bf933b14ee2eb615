// The library API for CI masters and for configs written in TypeScript.
export { LatentWorkerClient, UnknownLifecycleError, PHASE_ORDER, type LifecycleSummary, type StartedLifecycle, type SubstantiateOptions, type WatchOptions } from './client/api.js';
export { lifecycleInputSchema, inputProblems } from './client/inputSchema.js';
export { DEFAULT_TASK_QUEUE, LIFECYCLE_WORKFLOW_TYPE, QUERIES, SIGNALS, workflowIdFor } from './client/contract.js';
export { temporalSettings, type TemporalSettings } from './client/settings.js';
export { codecFromEnv, dataConverterFromEnv, EncryptionKeyError, PayloadDecryptionError } from './codec/index.js';
export { ConfigError, findConfigFile, loadConfigFile, type LoadedConfig, type ResolvedWorker } from './config/load.js';
export type { ImageFunction } from './config/serverOptions.js';
export type { Image } from './openstack/index.js';
export type { LifecycleInput, LifecycleResult, LifecycleStatus, Outcome, Phase, WorkerSpec } from './workflows/types.js';

/** Types a config written in TypeScript (latent.config.ts); returns it unchanged. */
export function defineConfig<T extends { workers: unknown[] }>(config: T): T {
  return config;
}
