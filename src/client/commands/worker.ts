import type { NativeConnection, Worker } from '@temporalio/worker';
import { Command } from 'commander';
import type { CloudRegistry } from '../../activities/cloudRegistry.js';
import { describeEncryption } from '../../codec/index.js';
import { describeTuning, resolveTuning, tuningOption } from '../../worker/tuning.js';
import { parseWorkerOps, WORKER_OPS_ENV, type WorkerOpsInput } from '../../config/workerOps.js';
import { startHealthServer, type CheckResult, type HealthServer } from '../../worker/health.js';
import { createLogger } from '../../worker/logging.js';
import { startCensus, type Census } from '../../worker/census.js';
import type { FleetCensus } from '../../worker/fleetCensus.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { installWorkerRuntime, SHUTDOWN_SIGNALS } from '../../worker/runtime.js';
import { setupCheck, temporalReachable } from '../../worker/temporalCheck.js';
import { createLatentWorker, connectWorker } from '../../worker/worker.js';
import { ensureReaperSchedule, reaperScheduleId } from '../reaper.js';
import { LatentWorkerClient } from '../api.js';
import { checkDeployment, describeForeign } from '../deploymentCheck.js';
import { ConfigError } from '../../config/load.js';
import { describeError } from '../failures.js';
import { describeSetup, ensureSetup } from '../setup.js';
import { describeConnection } from '../settings.js';
import { loadConfig, settingsFor, withClient } from './common.js';

interface WorkerCommandOptions extends WorkerOpsInput {
  reaper: boolean;
  /** A bundle from `npm run bundle:workflows`. */
  workflowBundle?: string;
  allowSharedDeployment?: boolean;
  /** The tuning flags, checked by resolveTuning. */
  [tuningFlag: string]: unknown;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('run the Temporal worker that executes lifecycles (until SIGINT or SIGTERM, then drains; a second signal stops at once)')
    .option('--no-reaper', 'do not create or update the schedule of the orphan reaper')
    .option('--allow-shared-deployment', 'start even when servers of this deployment name owners this namespace never ran (another installation using the same deployment)')
    .option(...tuningOption('maxCachedWorkflows'))
    .option(...tuningOption('maxConcurrentActivityTaskExecutions'))
    .option(...tuningOption('maxConcurrentWorkflowTaskExecutions'))
    .option(...tuningOption('workflowTaskPollers'))
    .option(...tuningOption('activityTaskPollers'))
    .option(...tuningOption('workflowThreads'))
    .option(...tuningOption('fleetCensusSeconds'))
    .option('--workflow-bundle <file>', 'a bundle from `npm run bundle:workflows`, or a directory from `latent-worker bundle-workflows` (or LATENT_WORKER_WORKFLOW_BUNDLE): saves the start-up bundling and its memory')
    .option('--metrics-address <[ip:]port>', `serve Prometheus metrics on http://ADDRESS/metrics (default: $${WORKER_OPS_ENV.metricsAddress}, else none)`)
    .option('--health-address <[ip:]port>', `serve /healthz and /readyz (default: $${WORKER_OPS_ENV.healthAddress}, else none)`)
    .option('--log-format <json|text>', `log lines as JSON objects or as text (default: $${WORKER_OPS_ENV.logFormat}, else text on a terminal, JSON otherwise)`)
    .option('--log-level <level>', `TRACE, DEBUG, INFO, WARN or ERROR (default: $${WORKER_OPS_ENV.logLevel}, else INFO)`)
    .option('--census-interval <seconds>', `with --metrics-address, how often lifecycles by phase and servers by status are counted (default: $${WORKER_OPS_ENV.censusInterval}, else 60; 0: never)`)
    .option('--shutdown-grace <seconds>', `on SIGINT/SIGTERM, how long in-flight activities may finish before they are handed back (default: $${WORKER_OPS_ENV.shutdownGrace}, else 30)`)
    .action(async (options: WorkerCommandOptions, command: Command) => {
      // First, so that a bad setting stops the worker before it connects anywhere.
      const ops = parseWorkerOps(options);
      const tuning = resolveTuning(options);
      const config = await loadConfig(command);
      const settings = settingsFor(command);
      const output = createLogger({ format: ops.logFormat, level: ops.logLevel });
      const runtime = installWorkerRuntime({ logger: output, metrics: ops.metrics });
      // The runtime's logger holds lines back ~100 ms to order ours with the SDK's by time; it
      // is closed with the runtime, so the very last line goes to the output directly.
      const logger = runtime.logger;

      // The SDK's runtime stops the worker on these signals; this only says so and turns /readyz
      // to 503 at once. `once`: a second signal finds no listener and ends the process.
      let stopping: NodeJS.Signals | undefined;
      const onSignal = (signal: NodeJS.Signals): void => {
        stopping = signal;
        logger.info(`${signal}: shutting down; in-flight activities have ${ops.shutdownGraceSeconds} s to finish, then are handed back to Temporal`, { signal });
      };
      for (const signal of SHUTDOWN_SIGNALS) process.once(signal, onSignal);

      let worker: Worker | undefined;
      let connection: NativeConnection | undefined;
      let clouds: CloudRegistry | undefined;
      let health: HealthServer | undefined;
      let temporalCheck: (() => Promise<CheckResult>) | undefined;
      let census: Census | undefined;
      let fleetCensus: FleetCensus | undefined;
      let censusClient: LatentWorkerClient | undefined;
      let setup: (() => Promise<CheckResult>) | undefined;
      try {
        // Up before the workflow bundle is built (seconds), so that liveness is answered meanwhile.
        if (ops.health) {
          health = await startHealthServer(ops.health, {
            state: () => worker?.getState() ?? 'STARTING',
            readiness: {
              worker: async () => ({ ok: worker?.getState() === 'RUNNING' && !stopping, detail: stopping ? `shutting down (${stopping})` : (worker?.getState() ?? 'STARTING') }),
              temporal: async () => (temporalCheck ? temporalCheck() : { ok: false, detail: 'not connected yet' }),
              // Lifecycles cannot start while the namespace or a search attribute they write is missing.
              setup: async () => (setup ? setup() : { ok: false, detail: 'not checked yet' }),
            },
          });
          logger.info(`health endpoints at ${health.url}/healthz and ${health.url}/readyz`);
        }
        if (ops.metrics) logger.info(`Prometheus metrics at http://${ops.metrics.hostPort}/metrics`);
        if (options.reaper && !options.allowSharedDeployment) {
          const check = await withClient(command, (client) => checkDeployment(config, client.temporal));
          for (const { cloud, error } of check.unlisted) logger.warn(`could not check deployment ${config.deployment} on ${cloud}: ${error}`);
          if (check.foreign.length > 0) throw new ConfigError(describeForeign(config.deployment, settings.namespace, check.foreign));
        }
        if (options.reaper) {
          const { intervalSeconds, graceSeconds } = config.reaper;
          const change = await withClient(command, (client) => ensureReaperSchedule(client.temporal, { deployment: config.deployment, taskQueue: settings.taskQueue, intervalSeconds, graceSeconds }));
          logger.info(`reaper schedule ${reaperScheduleId(config.deployment)} ${change}: every ${intervalSeconds} s, grace ${graceSeconds} s`);
        }
        connection = await connectWorker(settings);
        temporalCheck = temporalReachable(connection);
        const target = { namespace: settings.namespace, address: settings.address };
        const first = await ensureSetup(connection, { ...target, apply: false }).then(
          (report) => ({ ok: report.ready, detail: describeSetup(report) }),
          (error: unknown) => ({ ok: false, detail: `cannot check the namespace and search attributes: ${describeError(error)}` }),
        );
        if (first.ok) logger.info(first.detail);
        else logger.error(`lifecycles cannot start: ${first.detail}; /readyz answers 503 until this is fixed`);
        setup = setupCheck(connection, target, first);
        const metrics = new WorkerMetrics(runtime.metricMeter);
        ({ worker, clouds, fleetCensus } = await createLatentWorker({
          connection,
          namespace: settings.namespace,
          taskQueue: settings.taskQueue,
          config,
          dataConverter: settings.dataConverter,
          metrics,
          shutdownGraceSeconds: ops.shutdownGraceSeconds,
          tuning,
          fleetLimits: true,
          workflowBundlePath: options.workflowBundle ?? (process.env.LATENT_WORKER_WORKFLOW_BUNDLE || undefined),
        }));
        logger.info(`${config.workers.size} worker definition(s) from ${config.source}; polling task queue ${settings.taskQueue} on ${describeConnection(settings)}; ${describeEncryption(settings.dataConverter)}; ${describeTuning(tuning)}`, {
          taskQueue: settings.taskQueue,
          namespace: settings.namespace,
        });
        if (ops.metrics && ops.censusIntervalSeconds > 0) {
          censusClient = await LatentWorkerClient.connect(settings);
          census = startCensus({
            temporal: censusClient.temporal,
            taskQueue: settings.taskQueue,
            clouds,
            deployment: config.deployment,
            metrics,
            intervalMs: ops.censusIntervalSeconds * 1000,
            logger,
          });
        }
        // Returns once in-flight tasks are done, or handed back after the grace period.
        await worker.run();
      } finally {
        await census?.stop();
        await fleetCensus?.stop();
        await censusClient?.temporal.connection.close();
        for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
        await health?.close();
        await clouds?.close();
        await connection?.close();
        // Closing the last connection shuts the runtime down; a start that failed before there
        // was one must do it here, or its log forwarding would keep the process alive.
        await runtime.shutdown();
      }
      output.info('worker stopped', { signal: stopping });
    });
}
