/**
 * The environment every `latent-worker worker` process of the tests runs with, on top of its own:
 * `startWorkerCli` (test/support/workerCli.ts) and the chaos suite's and conformance tier's
 * `WorkerProcess` (test/chaos/workerProcess.ts) both add it, a test's own variables after it.
 *
 * A fleet census every second instead of the product's 10 (src/worker/tuning.ts): a new process
 * uses no share of `cloud_limits` until `settleMs(interval)` after it first counts itself
 * (src/worker/fleetCensus.ts), so each worker a test starts creates its first server about 11 s
 * after start instead of 21. The join rule is the same at any interval; the cost is one
 * describeTaskQueue call per process per second on the test's own dev server.
 * test/fleet-limits.test.ts gives its processes an interval of its own.
 */
export const TEST_WORKER_ENV: Readonly<Record<string, string>> = {
  LATENT_WORKER_FLEET_CENSUS_INTERVAL: '1',
};
