import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasReached } from '../src/client/api.js';
import { EXIT } from '../src/client/exitCodes.js';
import type { LifecycleStatus } from '../src/workflows/types.js';
import { runCli } from './support/cli.js';
import { SEED_WORKER, startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';
import { temporalAddress } from './support/temporal.js';

// `--wait active` answers only for a server that is ACTIVE: a server being deleted (after a
// failed launch, or by a run being released) is not later than "waiting for attach".
let rig: LifecycleRig;
let configPath: string;

beforeAll(async () => {
  rig = await startLifecycleRig([{ name: 'errors', launch_attempts: 2 }, { name: 'lib-errors', launch_attempts: 2 }, { name: 'releasing' }], {
    simulator: { bootDelayMs: 300, deleteDelayMs: 1_500 },
  });
  configPath = join(mkdtempSync(join(tmpdir(), 'latent-wait-')), 'latent.config.yaml');
  const workers = [...rig.config.workers.values()].map(({ definition }) => ({ ...SEED_WORKER, ...definition, os_auth_url: rig.simulator.authUrlV2 }));
  writeFileSync(configPath, stringify({ workers }));
});

afterAll(async () => {
  await rig?.stop();
});

const cli = (...args: string[]) => runCli(['--config', configPath, ...args], { TEMPORAL_ADDRESS: temporalAddress(), LATENT_WORKER_TASK_QUEUE: rig.client.taskQueue });
const status = (phase: LifecycleStatus['phase'], outcome?: LifecycleStatus['outcome']): LifecycleStatus => ({ workerName: 'w', phase, startedAt: '', ...(outcome ? { outcome } : {}) });

describe('waiting for an ACTIVE server', () => {
  it('counts deleting and done as reached only for waits on them', () => {
    expect(hasReached(status('waiting-for-attach'), 'waiting-for-attach')).toBe(true);
    expect(hasReached(status('attached'), 'waiting-for-attach')).toBe(true);
    expect(hasReached(status('deleting'), 'waiting-for-attach')).toBe(false);
    expect(hasReached(status('done', 'released'), 'attached')).toBe(false);
    expect(hasReached(status('deleting'), 'deleting')).toBe(true);
    expect(hasReached(status('done', 'failed'), 'done')).toBe(true);
    expect(hasReached(status('booting'), 'waiting-for-attach')).toBe(false);
  });

  it('waitForPhase follows a server that goes to ERROR on every launch to the failed end, never answering "deleting"', async () => {
    const name = rig.nameOf('lib-errors');
    rig.simulator.faults.inject({ kind: 'bootError', namePattern: `^${name}-`, message: 'Block Device Mapping is Invalid: failed to get volume' });
    // A delete that ends within its first try is never seen in `deleting` (it ends inside one workflow task): the
    // first one is made to outlast it, so the phase is seen while the delete goes on as an activity.
    rig.simulator.faults.inject({ kind: 'latency', route: 'nova.servers.delete', ms: 5500, count: 1 });
    await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    const seen: string[] = [];
    const final = await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50, onStatus: (s) => seen.push(s.phase) });
    expect(seen).toContain('deleting');
    expect(final).toMatchObject({ phase: 'done', outcome: 'failed' });
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`))).toEqual([]);
  });

  it('`substantiate --wait active` exits non-zero with Nova\'s fault when every launch goes to ERROR', async () => {
    const name = rig.nameOf('errors');
    rig.simulator.faults.inject({ kind: 'bootError', namePattern: `^${name}-`, message: 'Block Device Mapping is Invalid: failed to get volume' });
    const result = await cli('substantiate', name, '--wait', 'active');
    expect(result.code).toBe(EXIT.failure);
    expect(result.stdout).not.toMatch(/ready|waiting-for-attach, server/);
    expect(result.stderr).toContain('Block Device Mapping is Invalid: failed to get volume');
    expect(rig.simulator.servers().filter((server) => server.name.startsWith(`${name}-`))).toEqual([]);
  });

  it('a substantiate that joins a run being released is not answered ready: the wait ends with the released run', async () => {
    const name = rig.nameOf('releasing');
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    const held = rig.simulator.faults.inject({ kind: 'hang', route: 'nova.servers.delete', count: 1 });
    await rig.client.release(name);
    await rig.client.waitForPhase(name, 'deleting', { intervalMs: 20 });
    const joined = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    expect(joined.firstExecutionRunId).toBe(handle.firstExecutionRunId);
    const waited = rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    rig.simulator.faults.remove(held.id);
    const final = await waited;
    expect(final).toMatchObject({ phase: 'done', outcome: 'released' });
    expect(hasReached(final, 'waiting-for-attach')).toBe(false);
  });
});
