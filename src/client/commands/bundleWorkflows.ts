import path from 'node:path';
import { Command } from 'commander';
import { failureConverterPath } from '../../codec/index.js';
import { workflowsPath } from '../../worker/worker.js';
import { writeWorkflowBundles } from '../../worker/workflowBundle.js';

/** What `npm run bundle:workflows -- --out-dir` does, for an installed package (deploy/systemd). */
export function bundleWorkflowsCommand(): Command {
  return new Command('bundle-workflows')
    .description('build the workflow bundles ahead of time (default.js and encrypting.js) for `worker --workflow-bundle DIR`; rebuild them with every new version')
    .requiredOption('--out-dir <dir>', 'where to write them')
    .action(async ({ outDir }: { outDir: string }) => {
      const files = await writeWorkflowBundles(path.resolve(outDir), workflowsPath(), failureConverterPath());
      console.log(`workflow bundles written: ${files.join(', ')}`);
    });
}
