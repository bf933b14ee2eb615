import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowsPath } from '../src/worker/worker.js';
import { workflowBundleOption, writeWorkflowBundle, writeWorkflowBundles } from '../src/worker/workflowBundle.js';
import { failureConverterPath } from '../src/codec/index.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

const dir = mkdtempSync(path.join(tmpdir(), 'bundle-'));
let rig: LifecycleRig;

beforeAll(async () => {
  const bundle = path.join(dir, 'workflow-bundle.js');
  await writeWorkflowBundle(bundle, workflowsPath());
  rig = await startLifecycleRig([{ name: 'bundled' }], { workflowBundlePath: bundle });
}, 120_000);

afterAll(async () => {
  await rig?.stop();
});

describe('a workflow bundle built ahead', () => {
  it('runs a whole lifecycle on a worker that did not bundle the workflows itself', async () => {
    const name = rig.nameOf('bundled');
    const handle = await rig.client.substantiate(rig.config.workers.get(name)!.specFor());
    await rig.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
    await rig.client.attached(name);
    await rig.client.release(name);
    const result = await handle.result();
    expect(result.outcome).toBe('released');
    expect(result.status.activeAt).toBeDefined();
    expect(rig.simulator.servers()).toEqual([]);
  });

  it('refuses a workflow bundle that is missing, foreign, or built for other payload encryption', () => {
    expect(() => workflowBundleOption(path.join(dir, 'none.js'), undefined)).toThrow(/cannot be read \(ENOENT\).*npm run bundle:workflows/);
    const foreign = path.join(dir, 'foreign.js');
    writeFileSync(foreign, 'module.exports = {};\n');
    expect(() => workflowBundleOption(foreign, undefined)).toThrow('is not a workflow bundle');
    const plain = path.join(dir, 'plain.js');
    writeFileSync(plain, 'code\n// latent-worker workflow bundle; failure converter: default\n');
    expect(workflowBundleOption(plain, undefined)).toEqual({ workflowBundle: { codePath: plain } });
    expect(() => workflowBundleOption(plain, { failureConverterPath: '/x.cjs' })).toThrow('holds the default failure converter, but this worker');
  });

  it('built as a directory of both kinds, gives each worker the kind its payload encryption needs', async () => {
    const bundles = path.join(dir, 'bundles');
    const files = await writeWorkflowBundles(bundles, workflowsPath(), failureConverterPath());
    expect(files).toEqual([path.join(bundles, 'default.js'), path.join(bundles, 'encrypting.js')]);
    expect(workflowBundleOption(bundles, undefined)).toEqual({ workflowBundle: { codePath: path.join(bundles, 'default.js') } });
    const encrypting = { failureConverterPath: failureConverterPath() };
    expect(workflowBundleOption(bundles, encrypting)).toEqual({ workflowBundle: { codePath: path.join(bundles, 'encrypting.js') } });
    expect(readFileSync(path.join(bundles, 'encrypting.js'), 'utf8')).toContain('failure converter: encrypting');
  }, 120_000);
});
