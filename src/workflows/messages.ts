import { defineQuery, defineSignal } from '@temporalio/workflow';
import { QUERIES, SIGNALS } from '../contract/names.js';
import type { LifecycleStatus } from './types.js';

// Signals, not updates: a CI master must be able to say "attached" or "release" even while no
// worker process is running, and Temporal accepts signals then.
export const attachedSignal = defineSignal(SIGNALS.attached);
export const releaseSignal = defineSignal(SIGNALS.release);
export const buildStartedSignal = defineSignal(SIGNALS.buildStarted);
export const buildFinishedSignal = defineSignal(SIGNALS.buildFinished);
export const statusQuery = defineQuery<LifecycleStatus>(QUERIES.status);
