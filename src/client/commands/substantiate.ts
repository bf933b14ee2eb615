import { Command, InvalidArgumentError, Option } from 'commander';
import { workerOrThrow } from '../../config/load.js';
import type { LifecycleStatus, Phase } from '../../workflows/types.js';
import type { LatentWorkerClient } from '../api.js';
import { EXIT } from '../exitCodes.js';
import { describeStatus } from '../format.js';
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
    .option('--json', 'print the final status as JSON')
    .action(async (name: string, options: { wait?: WaitTarget; property: Record<string, string>; json?: boolean }, command: Command) => {
      const spec = workerOrThrow(await loadConfig(command), name).specFor(options.property);
      await withClient(async (client) => {
        const handle = await client.substantiate(spec, options.property);
        if (!options.json) console.log(`${name}: lifecycle ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        if (!options.wait) return;
        const status = await waitAndReport(client, name, options.wait, !options.json);
        if (options.json) printJson(status);
        if (status.outcome === 'missing') process.exitCode = EXIT.missing;
        else if (status.outcome === 'failed' || status.outcome === 'cancelled') process.exitCode = EXIT.failure;
      });
    });
}

async function waitAndReport(client: LatentWorkerClient, name: string, until: WaitTarget, verbose: boolean): Promise<LifecycleStatus> {
  let lastPhase: string | undefined;
  const onStatus = (status: LifecycleStatus): void => {
    if (verbose && status.phase !== lastPhase) console.log(describeStatus(status));
    lastPhase = status.phase;
  };
  if (until !== 'done') return client.waitForPhase(name, WAIT_TARGETS[until], { onStatus });
  const result = client.result(name);
  // Phase lines while the lifecycle runs; the result decides when to stop.
  const watching = client.waitForPhase(name, 'done', { onStatus }).catch(() => undefined);
  try {
    const { status } = await result;
    onStatus(status);
    return status;
  } finally {
    await watching;
  }
}

export function collectProperty(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([^=]+)=(.*)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`--property must look like key=value, got "${value}"`);
  return { ...previous, [match[1]!]: match[2]! };
}
