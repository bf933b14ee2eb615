import { Command } from 'commander';
import type { LatentWorkerClient, SignalOptions } from '../api.js';
import { printJson, withClient } from './common.js';

/** One command per thing a CI master tells a lifecycle. */
function signalCommand(name: string, description: string, send: (client: LatentWorkerClient, worker: string, options: SignalOptions) => Promise<void>, done: string): Command {
  return new Command(name)
    .description(description)
    .argument('<name>', 'worker name')
    .option('--run <id>', 'the run id substantiate printed: only that lifecycle gets the signal (followed when it continues as new); refused (exit 4) once it has ended')
    .option('--json', 'print the outcome as JSON')
    .action(async (worker: string, options: { run?: string; json?: boolean }, command: Command) => {
      await withClient(command, (client) => send(client, worker, { runId: options.run }));
      if (options.json) printJson({ workerName: worker, signal: name, sent: true, ...(options.run ? { runId: options.run } : {}) });
      else console.log(`${worker}: ${done}`);
    });
}

export const attachedCommand = () =>
  signalCommand('attached', "tell the lifecycle that the worker's CI process has connected to the master", (client, worker, options) => client.attached(worker, options), 'attached');

export const buildStartedCommand = () =>
  signalCommand('build-started', 'tell the lifecycle that a build started on the worker', (client, worker, options) => client.buildStarted(worker, options), 'build started');

export const buildFinishedCommand = () =>
  signalCommand('build-finished', 'tell the lifecycle that a build finished on the worker', (client, worker, options) => client.buildFinished(worker, options), 'build finished');

export const releaseCommand = () =>
  signalCommand('release', 'tell the lifecycle that the master is done with the worker: its server is deleted', (client, worker, options) => client.release(worker, options), 'release requested');
