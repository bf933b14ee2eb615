import { Command } from 'commander';
import type { LifecycleStatus } from '../../workflows/types.js';
import { settleExitCode } from '../outcome.js';
import { progressLine } from '../progress.js';
import { withClient } from './common.js';

export function watchCommand(): Command {
  return new Command('watch')
    .description("follow a worker's lifecycle until it ends, a line per phase (exit code as substantiate --wait done)")
    .argument('<name>', 'worker name')
    .option('--json', 'print each status as a line of JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      await withClient(async (client) => {
        const progress = options.json ? undefined : progressLine();
        let last: LifecycleStatus | undefined;
        try {
          for await (const status of client.watch(name)) {
            last = status;
            if (options.json) console.log(JSON.stringify(status));
            else progress!.update(status);
          }
        } finally {
          progress?.end();
        }
        process.exitCode = await settleExitCode(client, last!);
      });
    });
}
