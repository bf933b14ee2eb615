import { Command } from 'commander';
import type { LatentWorkerClient, Unattended } from '../api.js';
import type { LifecycleStatus, Phase } from '../../workflows/types.js';
import { describeStatus } from '../format.js';
import { printJson, withClient } from './common.js';

export function statusCommand(): Command {
  return new Command('status')
    .description("a worker's lifecycle status, or every lifecycle when no name is given")
    .argument('[name]', 'worker name')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }, command: Command) => {
      await withClient(command, async (client) => {
        if (name) {
          const unattended = await client.unattended(name);
          const status = await statusOrLastPhase(client, name, unattended);
          if (options.json) printJson(unattended ? { ...status, unattended } : status);
          else console.log(describeStatus(status) + (unattended ? `\nwarning: ${unattended.reason}: nothing moves this lifecycle until a worker process runs for that task queue` : ''));
          return;
        }
        const lifecycles = await client.list();
        if (options.json) return printJson(lifecycles);
        if (lifecycles.length === 0) console.log('no lifecycles');
        for (const lifecycle of lifecycles) {
          const phase = lifecycle.phase ? ` ${lifecycle.phase}` : '';
          const server = lifecycle.serverId ? ` server ${lifecycle.serverId}` : '';
          console.log(`${lifecycle.workerName}: ${lifecycle.execution}${phase}${server} (started ${lifecycle.startTime.toISOString()})`);
        }
      });
    });
}

/**
 * The status query is answered by a worker: with none polling, it would only wait. The phase the
 * lifecycle last recorded (its search attribute) then stands in.
 */
async function statusOrLastPhase(client: LatentWorkerClient, name: string, unattended: Unattended | undefined): Promise<LifecycleStatus> {
  if (!unattended?.reason.startsWith('no worker polls')) return client.status(name);
  const [summary] = await client.list({ workerName: name, limit: 1 });
  return { workerName: name, phase: (summary?.phase ?? 'starting') as Phase, startedAt: summary?.startTime.toISOString() ?? '', ...(summary?.serverId ? { serverId: summary.serverId } : {}) };
}
