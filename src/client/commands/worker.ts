import { Command } from 'commander';
import { describeEncryption } from '../../codec/index.js';
import { describeTuning, resolveTuning, tuningOption } from '../../worker/tuning.js';
import { createLatentWorker, connectWorker } from '../../worker/worker.js';
import { ensureReaperSchedule, reaperScheduleId } from '../reaper.js';
import { temporalSettings } from '../settings.js';
import { loadConfig, withClient } from './common.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('run the Temporal worker that executes lifecycles (until SIGINT or SIGTERM)')
    .option('--no-reaper', 'do not create or update the schedule of the orphan reaper')
    .option(...tuningOption('maxCachedWorkflows'))
    .option(...tuningOption('maxConcurrentActivityTaskExecutions'))
    .option(...tuningOption('maxConcurrentWorkflowTaskExecutions'))
    .option(...tuningOption('workflowTaskPollers'))
    .option(...tuningOption('activityTaskPollers'))
    .option('--workflow-bundle <file>', 'a bundle from `npm run bundle:workflows` (or LATENT_WORKER_WORKFLOW_BUNDLE): saves the start-up bundling and its memory')
    .action(async (options: { reaper: boolean; workflowBundle?: string } & Record<string, unknown>, command: Command) => {
      // Before anything connects: a bad number is an error that names its flag or variable.
      const tuning = resolveTuning(options);
      const config = await loadConfig(command);
      const settings = temporalSettings();
      if (options.reaper) {
        const { intervalSeconds, graceSeconds } = config.reaper;
        const change = await withClient((client) => ensureReaperSchedule(client.temporal, { deployment: config.deployment, taskQueue: settings.taskQueue, intervalSeconds, graceSeconds }));
        console.log(`worker: reaper schedule ${reaperScheduleId(config.deployment)} ${change}: every ${intervalSeconds} s, grace ${graceSeconds} s`);
      }
      const connection = await connectWorker(settings.address);
      const { worker, clouds } = await createLatentWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, config, dataConverter: settings.dataConverter, tuning, workflowBundlePath: options.workflowBundle ?? (process.env.LATENT_WORKER_WORKFLOW_BUNDLE || undefined) });
      console.log(`worker: ${config.workers.size} worker definition(s) from ${config.source}; polling task queue ${settings.taskQueue} on ${settings.address}; ${describeEncryption(settings.dataConverter)}; ${describeTuning(tuning)}`);
      try {
        // Worker.run() returns after SIGINT/SIGTERM once in-flight tasks are done or handed back.
        await worker.run();
      } finally {
        await clouds.close();
        await connection.close();
      }
    });
}
