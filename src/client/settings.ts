import type { DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../codec/index.js';
import { DEFAULT_TASK_QUEUE } from './contract.js';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Payload encryption, which the worker and all its clients must share; Temporal's default when unset. */
  dataConverter?: DataConverter;
}

/** Which Temporal service to talk to, from the same variables Temporal's own CLI reads. */
export function temporalSettings(env: Record<string, string | undefined> = process.env): TemporalSettings {
  return {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.LATENT_WORKER_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    dataConverter: dataConverterFromEnv(env),
  };
}
