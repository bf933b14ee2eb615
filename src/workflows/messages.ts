import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { LifecycleStatus } from './types.js';

// Signals, not updates: a CI master must be able to say "attached" or "release" even while no
// worker process is running, and Temporal accepts signals then.
export const attachedSignal = defineSignal('attached');
export const releaseSignal = defineSignal('release');
export const buildStartedSignal = defineSignal('build-started');
export const buildFinishedSignal = defineSignal('build-finished');
export const statusQuery = defineQuery<LifecycleStatus>('status');
