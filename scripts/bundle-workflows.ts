// Builds the workflow bundle ahead of time for `latent-worker worker --workflow-bundle FILE`
// (src/worker/workflowBundle.ts). Run it with the same payload-encryption settings as the worker.
//
//   npm run bundle:workflows -- --out dist/workflow-bundle.js
import { parseArgs } from 'node:util';
import { dataConverterFromEnv } from '../src/codec/index.js';
import { writeWorkflowBundle } from '../src/worker/workflowBundle.js';
import { workflowsPath } from '../src/worker/worker.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/workflow-bundle.js' } } });
await writeWorkflowBundle(values.out, workflowsPath(), dataConverterFromEnv());
console.log(`workflow bundle written to ${values.out}`);
