import { MAX_USER_META_ITEMS } from '../config/serverOptions.js';
import { z } from 'zod';
import { boundedSeconds, buildWaitSeconds, TIMEOUT_BOUNDS } from './timeouts.js';
import type { BlockDeviceSpec, ImageSelector, LifecycleInput, MasterImageChoice, WorkerSpec } from '../workflows/types.js';

// The workflow's input, as a schema: the lifecycle has it checked (by the checkInput local
// activity) before it does anything, the client checks it before starting one, and
// `npm run contract` turns it into contract/lifecycle-input.schema.json for CI masters written in
// other languages. The TypeScript interfaces in workflows/types.ts stay the readable
// documentation; the assertions at the bottom keep the two in step.
//
// Never import this from workflow code: zod in the workflow bundle costs every cached lifecycle
// its own copy of the schemas, and a worker then runs out of heap at a few hundred lifecycles
// (measured: out of memory at 400 booting lifecycles under a 256 MiB heap, 327 MiB RSS without).

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const META_KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;

const imageSelector = z
  .strictObject({
    name: z.string().optional().describe('A regular expression the image name must match.'),
    tags: z.array(z.string().min(1)).optional(),
    properties: z.record(z.string(), z.string()).optional().describe('Image properties that must have exactly these values.'),
    visibility: z.enum(['public', 'private', 'shared', 'community']).optional(),
    pick: z.enum(['newest', 'oldest'], { error: 'must be "newest" or "oldest"' }).describe('Which match wins, by created_at.'),
  })
  .meta({ id: 'ImageSelector' });

const masterImageChoice = z
  .strictObject({
    resolver: z.literal('master'),
    taskQueue: z.string().min(1).describe('The task queue on which the master serves the chooseImage activity.'),
    callable: z.string().min(1).describe('The name of the callable, for messages.'),
  })
  .meta({ id: 'MasterImageChoice' });

const image = z
  .union([z.string().min(1), imageSelector, z.strictObject({ resolver: z.literal('function') }), masterImageChoice], {
    error: 'must be an image UUID or name, a selector {name, tags, properties, visibility, pick}, {"resolver": "function"} or {"resolver": "master", "taskQueue", "callable"}',
  })
  .describe('An image UUID or exact name, a selector, {"resolver": "function"} for an image function registered in the worker process, or {"resolver": "master", ...} for one the CI master chooses (its chooseImage activity).');

const blockDevice = z
  .strictObject({
    uuid: z.string().regex(UUID, 'must be the UUID of an image, snapshot or volume'),
    volumeSize: z.number().int().positive('must be a whole number of GiB above 0').optional().describe('GiB; derived from the source when absent.'),
    deviceName: z.string().regex(/^[a-z]+$/, 'must be a device name such as vda'),
    sourceType: z.enum(['image', 'snapshot', 'volume'], { error: 'must be image, snapshot or volume' }),
    destinationType: z.enum(['volume', 'local'], { error: 'must be volume or local' }),
    deleteOnTermination: z.boolean(),
    bootIndex: z.number().int().min(-1, 'must be -1 (not bootable) or a boot position from 0'),
  })
  .meta({ id: 'BlockDeviceSpec' });

export const workerSpecSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit').describe('The worker name; unless sealedCredentials is given, the worker process must define a worker of this name (its credentials stay there).'),
    cloud: z.string().min(1, 'must name the cloud (shown in the Web UI; never credentials)'),
    flavor: z.string({ error: 'must be a flavor id or name, as text' }).min(1, 'must be a flavor id or name, as text'),
    image: image.optional(),
    blockDevices: z.array(blockDevice).min(1, 'give at least one block device, or leave blockDevices out').optional(),
    meta: z
      .record(z.string().regex(META_KEY, 'metadata keys are 1-255 letters, digits, spaces or -_:.'), z.string().max(255, 'metadata values are at most 255 characters'))
      .refine((meta) => Object.keys(meta).length <= MAX_USER_META_ITEMS, `at most ${MAX_USER_META_ITEMS} metadata items (Nova allows 128; 4 mark ownership)`)
      .meta({ maxProperties: MAX_USER_META_ITEMS }),
    novaArgs: z.record(z.string(), z.unknown()).optional().describe("novaclient's servers.create keyword arguments (nics, availability_zone, ...)."),
    clientVersion: z.string().regex(/^(1\.1|2|2\.\d+)$/, 'must be "1.1", "2" or "2.N"'),
    missingTimeoutSeconds: boundedSeconds('missingTimeoutSeconds', TIMEOUT_BOUNDS.missingTimeout),
    bootTimeoutSeconds: boundedSeconds('bootTimeoutSeconds', TIMEOUT_BOUNDS.bootTimeout),
    buildWaitTimeoutSeconds: buildWaitSeconds('buildWaitTimeoutSeconds').optional().describe('Idle seconds before release: 0 after each build, negative never; default 600.'),
    launchAttempts: z.number().int().min(1, 'must be at least 1').max(20, 'must be at most 20').optional(),
    notifyOnMissing: z.array(z.email()),
    sealedCredentials: z
      .string()
      .regex(/^olw-sealed-v1\.[0-9a-f]{16}\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/, 'must be a value sealed for the worker fleet (olw-sealed-v1.KEYID.EPHEMERAL.NONCE.CIPHERTEXT), never plaintext')
      .optional()
      .describe('The account arguments of a worker defined in the CI master, sealed for the worker fleet (docs/credentials.md); absent when the fleet defines the worker.'),
  })
  .refine((spec) => spec.image !== undefined || spec.blockDevices !== undefined, { message: 'give image, blockDevices, or both', path: ['image'] })
  // The refinements above, said the JSON Schema way, so other languages' validators check them too.
  .meta({ id: 'WorkerSpec', anyOf: [{ required: ['image'] }, { required: ['blockDevices'] }] });

export const lifecycleInputSchema = z
  .strictObject({
    spec: workerSpecSchema,
    properties: z.record(z.string(), z.string()).describe('Build properties from the CI master, kept for the record.'),
  })
  .meta({ title: 'latentWorkerLifecycle input', description: 'The one argument of the latentWorkerLifecycle workflow. It carries no credential in plaintext.' });

/** What is wrong with an input, one `path: message` per problem; empty when it is valid. */
export function inputProblems(input: unknown): string[] {
  const checked = lifecycleInputSchema.safeParse(input);
  if (checked.success) return [];
  return checked.error.issues.map((issue) => {
    const where = issue.path.join('.') || '(the input)';
    const what = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message;
    return `${where}: ${what}`;
  });
}

// Compile-time checks that the schema and the interfaces describe the same data: a drift fails `tsc`.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type _SchemaMatchesTypes = [
  // `continued` is written by the lifecycle for its own next run, never by a master.
  Holds<Same<z.output<typeof lifecycleInputSchema>, Omit<LifecycleInput, 'continued'>>>,
  Holds<Same<z.output<typeof workerSpecSchema>, WorkerSpec>>,
  Holds<Same<z.output<typeof imageSelector>, ImageSelector>>,
  Holds<Same<z.output<typeof blockDevice>, BlockDeviceSpec>>,
  Holds<Same<z.output<typeof masterImageChoice>, MasterImageChoice>>,
];
