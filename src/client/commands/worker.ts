import { Command } from 'commander';
import { createLatentWorker, connectWorker } from '../../worker/worker.js';
import { temporalSettings } from '../settings.js';
import { loadConfig } from './common.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description('run the Temporal worker that executes lifecycles (until SIGINT or SIGTERM)')
    .action(async (_options: unknown, command: Command) => {
      const config = await loadConfig(command);
      const settings = temporalSettings();
      const connection = await connectWorker(settings.address);
      const { worker, clouds } = await createLatentWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, config });
      console.log(`worker: ${config.workers.size} worker definition(s) from ${config.source}; polling task queue ${settings.taskQueue} on ${settings.address}`);
      try {
        // Worker.run() returns after SIGINT/SIGTERM once in-flight tasks are done or handed back.
        await worker.run();
      } finally {
        await clouds.close();
        await connection.close();
      }
    });
}
