import { Command, InvalidArgumentError, Option } from 'commander';
import type { LifecycleStatus, Phase } from '../../workflows/types.js';
import { hasReached, type LatentWorkerClient } from '../api.js';
import { EXIT } from '../exitCodes.js';
import { settleExitCode } from '../outcome.js';
import { progressLine } from '../progress.js';
import { loadConfig, printJson, withClient } from './common.js';

/** What `--wait` waits for, as the first phase that means it has happened. */
const WAIT_TARGETS = { active: 'waiting-for-attach', attached: 'attached', done: 'done' } as const satisfies Record<string, Phase>;
type WaitTarget = keyof typeof WAIT_TARGETS;

export function substantiateCommand(): Command {
  return new Command('substantiate')
    .description('start a lifecycle for a worker (or join the running one) and boot its server')
    .argument('<name>', 'worker name from the config file')
    .addOption(new Option('--wait <until>', 'wait until the server is ACTIVE, the worker attached, or the lifecycle is done').choices(Object.keys(WAIT_TARGETS)))
    .option('-p, --property <key=value>', 'a build property (repeatable)', collectProperty, {})
    .option('--json', 'print the lifecycle (and, with --wait, its final status) as JSON')
    .action(async (name: string, options: { wait?: WaitTarget; property: Record<string, string>; json?: boolean }, command: Command) => {
      const definitions = await loadConfig(command);
      await withClient(command, async (client) => {
        const handle = await client.substantiate(name, { properties: options.property });
        const started = { workerName: name, workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
        if (!options.wait) return options.json ? printJson(started) : console.log(`${name}: lifecycle ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        if (!options.json) console.log(`${name}: lifecycle ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        const target = WAIT_TARGETS[options.wait];
        const status = await waitFor(client, name, target, !options.json);
        if (options.json) printJson({ ...started, status });
        // A failed lifecycle throws its failure here (Nova's fault in its cause chain).
        const settled = await settleExitCode(client, status);
        if (hasReached(status, target)) {
          process.exitCode = settled;
          return;
        }
        console.error(`${name}: the lifecycle ended ${status.outcome ?? 'without an outcome'} before its server was ${options.wait === 'active' ? 'ACTIVE' : options.wait}`);
        process.exitCode = settled === EXIT.ok ? EXIT.failure : settled;
      }, definitions);
    });
}

/** Follows the lifecycle until it reaches `target` or ends, showing each phase unless quiet. */
async function waitFor(client: LatentWorkerClient, name: string, target: Phase, show: boolean): Promise<LifecycleStatus> {
  const progress = show ? progressLine() : undefined;
  try {
    return await client.waitForPhase(name, target, { onStatus: (status) => progress?.update(status) });
  } finally {
    progress?.end();
  }
}

export function collectProperty(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([^=]+)=(.*)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`--property must look like key=value, got "${value}"`);
  return { ...previous, [match[1]!]: match[2]! };
}
