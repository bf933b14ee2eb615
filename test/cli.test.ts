import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/client/exitCodes.js';
import { runCli } from './support/cli.js';
import { startLifecycleRig, SEED_WORKER, type LifecycleRig } from './support/lifecycleRig.js';
import { temporalAddress } from './support/temporal.js';

let rig: LifecycleRig;
let configPath: string;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'cli' }, { name: 'cli-missing', missing_timeout: 1 }]);
  // The CLI reads the same definitions the worker process uses, from a file as a user would.
  configPath = join(mkdtempSync(join(tmpdir(), 'latent-cli-')), 'latent.config.yaml');
  const workers = [...rig.config.workers.values()].map(({ definition }) => ({ ...SEED_WORKER, ...definition, os_auth_url: rig.simulator.authUrlV2 }));
  writeFileSync(configPath, stringify({ workers }));
});

afterAll(async () => {
  await rig?.stop();
});

const cli = (...args: string[]) =>
  runCli(['--config', configPath, ...args], { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: rig.client.taskQueue });

describe('the latent-worker CLI', () => {
  it('substantiates, reports status, and attaches and releases a worker', async () => {
    const name = rig.nameOf('cli');
    const started = await cli('substantiate', name, '--wait', 'active', '--property', 'branch=main');
    expect(started.code).toBe(EXIT.ok);
    expect(started.stdout).toContain(`${name}: lifecycle latent-worker:${name}`);
    // Not a terminal: one progress line per phase it sees, each with the seconds since the command
    // started. The token check and the image run as local activities in the lifecycle's first
    // workflow task, which no query sees into: the first phase shown is `creating`.
    expect(started.stdout).toMatch(new RegExp(`${name}: (creating|booting)[ ,].*\\(\\d+ s\\)`));
    expect(started.stdout).toMatch(new RegExp(`${name}: waiting-for-attach, server ${name}-[0-9a-f]{8}-1 [0-9a-f-]{36} \\(\\d+ s\\)`));

    const status = await cli('status', name, '--json');
    expect(status.code).toBe(EXIT.ok);
    const parsed = JSON.parse(status.stdout) as { phase: string; serverId: string };
    expect(parsed.phase).toBe('waiting-for-attach');
    expect(rig.simulator.servers().map((server) => server.id)).toContain(parsed.serverId);

    const attached = await cli('attached', name, '--json');
    expect(attached.code).toBe(EXIT.ok);
    expect(JSON.parse(attached.stdout)).toEqual({ workerName: name, signal: 'attached', sent: true });
    expect((await cli('build-started', name)).stdout).toContain(`${name}: build started`);
    expect((await rig.client.status(name)).buildsRunning).toBe(1);
    expect((await cli('build-finished', name)).stdout).toContain(`${name}: build finished`);
    expect((await rig.client.status(name)).buildsFinished).toBe(1);
    expect((await cli('release', name)).stdout).toContain(`${name}: release requested`);
    expect((await rig.client.result(name)).outcome).toBe('released');

    // `watch` of a closed lifecycle prints its last status and exits as substantiate --wait done would.
    const watched = await cli('watch', name, '--json');
    expect(watched.code).toBe(EXIT.ok);
    expect(watched.stdout.trim().split('\n').map((line) => JSON.parse(line) as { phase: string; outcome?: string })).toEqual([
      expect.objectContaining({ phase: 'done', outcome: 'released' }),
    ]);

    const list = await cli('status', '--json');
    const lifecycles = JSON.parse(list.stdout) as { workerName: string }[];
    expect(lifecycles.map((lifecycle) => lifecycle.workerName)).toContain(name);
    expect(rig.simulator.servers()).toEqual([]);
  });

  it('exits with the "missing" code when the worker never attaches, after waiting for the end', async () => {
    const name = rig.nameOf('cli-missing');
    const result = await cli('substantiate', name, '--wait', 'done', '--json');
    expect(result.code).toBe(EXIT.missing);
    expect(JSON.parse(result.stdout)).toMatchObject({ workerName: name, workflowId: `latent-worker:${name}`, status: { outcome: 'missing', phase: 'done' } });
  });

  it('refuses an unknown worker name before starting anything, and names the known ones', async () => {
    const result = await cli('substantiate', 'no-such-worker');
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('unknown worker "no-such-worker"');
    expect(result.stderr).toContain(rig.nameOf('cli'));
  });

  it('says so when a signal names a worker without a lifecycle', async () => {
    const result = await cli('release', 'never-started');
    expect(result.code).toBe(EXIT.notFound);
    expect(result.stderr).toContain('no lifecycle for worker "never-started"');
  });

  it('pins signals to the run substantiate printed: a late release for an ended lifecycle exits 4 and leaves the next one running', async () => {
    const name = rig.nameOf('cli');
    const first = JSON.parse((await cli('substantiate', name, '--wait', 'active', '--json')).stdout) as { runId: string };
    const released = await cli('release', name, '--run', first.runId, '--json');
    expect(JSON.parse(released.stdout)).toEqual({ workerName: name, signal: 'release', sent: true, runId: first.runId });
    expect((await rig.client.result(name)).outcome).toBe('released');

    const second = JSON.parse((await cli('substantiate', name, '--wait', 'active', '--json')).stdout) as { runId: string };
    const late = await cli('release', name, '--run', first.runId);
    expect(late.code).toBe(EXIT.notFound);
    expect(late.stderr).toContain(`run ${first.runId} belongs to has ended (COMPLETED)`);
    expect((await rig.client.status(name)).phase).toBe('waiting-for-attach');

    expect((await cli('release', name, '--run', second.runId)).code).toBe(EXIT.ok);
    expect((await rig.client.result(name)).outcome).toBe('released');
  });
});
