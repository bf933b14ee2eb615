// The workflow bundle's entry point: every workflow type the worker registers.
export { latentWorkerLifecycle } from './lifecycle.js';
export { orphanReaper } from './reaper.js';
export { cloudStatusWatcher } from './statusWatcher.js';
