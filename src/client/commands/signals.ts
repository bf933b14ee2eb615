import { Command } from 'commander';
import type { LatentWorkerClient } from '../api.js';
import { printJson, withClient } from './common.js';

/** One command per thing a CI master tells a lifecycle. */
function signalCommand(name: string, description: string, send: (client: LatentWorkerClient, worker: string) => Promise<void>, done: string): Command {
  return new Command(name)
    .description(description)
    .argument('<name>', 'worker name')
    .option('--json', 'print the outcome as JSON')
    .action(async (worker: string, options: { json?: boolean }) => {
      await withClient((client) => send(client, worker));
      if (options.json) printJson({ workerName: worker, signal: name, sent: true });
      else console.log(`${worker}: ${done}`);
    });
}

export const attachedCommand = () =>
  signalCommand('attached', "tell the lifecycle that the worker's CI process has connected to the master", (client, worker) => client.attached(worker), 'attached');

export const buildStartedCommand = () =>
  signalCommand('build-started', 'tell the lifecycle that a build started on the worker', (client, worker) => client.buildStarted(worker), 'build started');

export const buildFinishedCommand = () =>
  signalCommand('build-finished', 'tell the lifecycle that a build finished on the worker', (client, worker) => client.buildFinished(worker), 'build finished');

export const releaseCommand = () =>
  signalCommand('release', 'tell the lifecycle that the master is done with the worker: its server is deleted', (client, worker) => client.release(worker), 'release requested');
