// Builds the workflow bundle ahead of time for `latent-worker worker --workflow-bundle FILE`
// (src/worker/workflowBundle.ts). Run it with the same payload-encryption settings as the worker,
// or build both kinds into a directory and give the worker the directory.
//
//   npm run bundle:workflows -- --out dist/workflow-bundle.js
//   npm run bundle:workflows -- --out-dir dist/workflow-bundles
import { parseArgs } from 'node:util';
import { dataConverterFromEnv, failureConverterPath } from '../src/codec/index.js';
import { writeWorkflowBundle, writeWorkflowBundles } from '../src/worker/workflowBundle.js';
import { workflowsPath } from '../src/worker/worker.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/workflow-bundle.js' }, 'out-dir': { type: 'string' } } });
if (values['out-dir']) {
  const files = await writeWorkflowBundles(values['out-dir'], workflowsPath(), failureConverterPath());
  console.log(`workflow bundles written: ${files.join(', ')}`);
} else {
  await writeWorkflowBundle(values.out, workflowsPath(), dataConverterFromEnv());
  console.log(`workflow bundle written to ${values.out}`);
}
