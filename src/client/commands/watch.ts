import { Command } from 'commander';
import type { LifecycleStatus } from '../../workflows/types.js';
import type { LatentWorkerClient } from '../api.js';
import { settleExitCode } from '../outcome.js';
import { progressLine } from '../progress.js';
import { withClient } from './common.js';

export function watchCommand(): Command {
  return new Command('watch')
    .description("follow a worker's lifecycle until it ends, a line per phase (exit code as substantiate --wait done)")
    .argument('<name>', 'worker name')
    .option('--json', 'print each status as a line of JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      await withClient(command, async (client) => {
        const progress = options.json ? undefined : progressLine();
        let last: LifecycleStatus | undefined;
        try {
          const warnings = warnWhenUnattended(client, name, options.json === true);
          try {
            for await (const status of client.watch(name)) {
              last = status;
              if (options.json) console.log(JSON.stringify(status));
              else progress!.update(status);
            }
          } finally {
            warnings.abort();
          }
        } finally {
          progress?.end();
        }
        process.exitCode = await settleExitCode(client, last!);
      });
    });
}

const UNATTENDED_CHECK_MS = 15_000;

/** Says once, on stderr, when no worker has taken the lifecycle's tasks for a while, and again when one has. */
function warnWhenUnattended(client: LatentWorkerClient, name: string, json: boolean): AbortController {
  const stop = new AbortController();
  let warned = false;
  const check = async () => {
    const unattended = await client.unattended(name).catch(() => undefined);
    if (stop.signal.aborted) return;
    if (unattended && !warned) console.error(json ? JSON.stringify({ unattended }) : `warning: ${unattended.reason}`);
    else if (!unattended && warned) console.error(json ? JSON.stringify({ unattended: null }) : 'a worker has picked the lifecycle up again');
    warned = unattended !== undefined;
  };
  const timer = setInterval(() => void check(), UNATTENDED_CHECK_MS);
  void check();
  stop.signal.addEventListener('abort', () => clearInterval(timer));
  return stop;
}
