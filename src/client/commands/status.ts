import { Command } from 'commander';
import { describeStatus } from '../format.js';
import { printJson, withClient } from './common.js';

export function statusCommand(): Command {
  return new Command('status')
    .description("a worker's lifecycle status, or every lifecycle when no name is given")
    .argument('[name]', 'worker name')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }) => {
      await withClient(async (client) => {
        if (name) {
          const status = await client.status(name);
          if (options.json) printJson(status);
          else console.log(describeStatus(status));
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
