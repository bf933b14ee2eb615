import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, type Logger } from '@temporalio/worker';

// Bundling the workflows is webpack's work: done inside the worker process at start it takes
// seconds of CPU and leaves about 100 MiB of resident memory behind for the process's life
// (docs/benchmark.md). A bundle built ahead of time skips both. The failure converter is part of
// the bundle, so a bundle says which one it holds and the worker refuses one that does not match
// its own payload encryption. A directory holds one bundle of each kind, `default.js` and
// `encrypting.js`, and the worker takes the one its encryption needs: so an image can carry both.

const MARK = '// latent-worker workflow bundle; failure converter: ';

type ConverterKind = 'encrypting' | 'default';

const converterKind = (dataConverter: DataConverter | undefined): ConverterKind => (dataConverter?.failureConverterPath ? 'encrypting' : 'default');

export async function writeWorkflowBundle(outFile: string, workflowsPath: string, dataConverter?: DataConverter, logger?: Logger): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath: dataConverter?.failureConverterPath, logger });
  // Before the inline source map, which must stay the last line: the SDK decodes the map from
  // there to the end of the file, and text after it broke the decoding (seen as a JSON error).
  const map = code.lastIndexOf('\n//# sourceMappingURL=');
  const at = map === -1 ? code.length : map;
  writeFileSync(outFile, `${code.slice(0, at)}\n${MARK}${converterKind(dataConverter)}${code.slice(at)}\n`);
}

/** Both kinds of bundle into `dir`, as `default.js` and `encrypting.js`; returns their paths. */
export async function writeWorkflowBundles(dir: string, workflowsPath: string, failureConverterPath: string, logger?: Logger): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const kinds: [ConverterKind, DataConverter | undefined][] = [
    ['default', undefined],
    ['encrypting', { failureConverterPath }],
  ];
  const files: string[] = [];
  for (const [kind, dataConverter] of kinds) {
    const file = path.join(dir, `${kind}.js`);
    await writeWorkflowBundle(file, workflowsPath, dataConverter, logger);
    files.push(file);
  }
  return files;
}

/** The Worker.create option for a bundle file (or a directory of both kinds); throws naming the file when it is unusable. */
export function workflowBundleOption(fileOrDir: string, dataConverter: DataConverter | undefined): { workflowBundle: { codePath: string } } {
  const file = isDirectory(fileOrDir) ? path.join(fileOrDir, `${converterKind(dataConverter)}.js`) : fileOrDir;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`workflow bundle ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); build it with \`npm run bundle:workflows -- --out ${file}\``);
  }
  if (!text.includes(MARK)) throw new Error(`${file} is not a workflow bundle built by \`npm run bundle:workflows\``);
  const kind = text.slice(text.lastIndexOf(MARK) + MARK.length).split('\n', 1)[0]!.trim();
  if (kind !== converterKind(dataConverter)) {
    throw new Error(`workflow bundle ${file} holds the ${kind} failure converter, but this worker's payload encryption needs the ${converterKind(dataConverter)} one: rebuild it with the worker's LATENT_WORKER_* encryption settings`);
  }
  return { workflowBundle: { codePath: file } };
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}
