import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/temporal/paths.js';

// The master.cfg examples of the seed document (Buildbot's OpenStackLatentWorker page): four
// `c['workers']` lists, one of them with the `find_image` callable defined beside it. Read from the
// document itself, so the tests run what a user copies from it.

export const SEED_DIR = process.env.LATENT_WORKER_SEED_DIR ?? path.join(projectRoot, '..', 'shared', 'seed');

export interface SeedExample {
  id: 'simplest' | 'image-callable' | 'block-devices' | 'nova-args';
  text: string;
}

/** The `c['workers'] = [...]` examples, in the document's order; throws, saying why, when the document is not there. */
export function seedExamples(): SeedExample[] {
  if (!existsSync(SEED_DIR)) throw new Error(`the seed document is not at ${SEED_DIR}: CI clones the repository next to shared/; elsewhere set LATENT_WORKER_SEED_DIR`);
  const document = readdirSync(SEED_DIR)
    .map((file) => readFileSync(path.join(SEED_DIR, file), 'utf8'))
    .find((text) => text.includes('class buildbot.worker.openstack.OpenStackLatentWorker'));
  if (!document) throw new Error(`no file in ${SEED_DIR} is the OpenStackLatentWorker document`);
  const blocks = [...document.matchAll(/^from buildbot\.plugins import worker\n[\s\S]*?^\]$/gm)].map((match) => match[0]);
  const examples = blocks.map((text): SeedExample => {
    if (text.includes('image=find_image')) return { id: 'image-callable', text };
    if (text.includes('block_devices=')) return { id: 'block-devices', text };
    if (text.includes('nova_args=')) return { id: 'nova-args', text };
    return { id: 'simplest', text };
  });
  if (examples.length !== 4 || new Set(examples.map((e) => e.id)).size !== 4) {
    throw new Error(`expected the seed's four c['workers'] examples (simplest, image callable, block_devices, nova_args), found ${examples.map((e) => e.id).join(', ')}`);
  }
  return examples;
}

export interface Adaptation {
  authUrl: string;
  /** The test cloud's network for the nova_args example's placeholder 'uid-of-network'. */
  networkId?: string;
}

/** The example with the class name changed and the test cloud's auth URL (and network) in place of the document's. */
export function adapt(example: SeedExample, { authUrl, networkId }: Adaptation): string {
  let text = example.text.replace('worker.OpenStackLatentWorker(', 'worker.TemporalOpenStackLatentWorker(');
  text = text.replace("'http://127.0.0.1:35357/v2.0'", JSON.stringify(authUrl));
  if (networkId) text = text.replace("'uid-of-network'", JSON.stringify(networkId));
  return text;
}

/**
 * The callable as Python 3 must write it: the document's `cmp`/`sorted(cmp=...)` are Python 2 and
 * raise TypeError on any Python 3 (Buildbot 3 and 4 need Python 3), whatever the worker class.
 */
export function python3Callable(example: SeedExample): string {
  return example.text
    .replace('from buildbot.plugins import worker\n', 'from buildbot.plugins import worker\nimport functools\n\ndef cmp(x, y):\n    return (x > y) - (x < y)\n')
    .replace('sorted(images, cmp=cmp_fn)', 'sorted(images, key=functools.cmp_to_key(cmp_fn))');
}
