import { OWNER_KEYS } from '../activities/ownerKeys.js';
import { z } from 'zod';
import type { Image } from '../openstack/index.js';
import { hasTemplate } from './render.js';

// The parts of a worker definition that shape the server-create request, with the seed
// document's keys and defaults.

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

// A value that uses a build property is checked once it is rendered, at substantiate time.
const uuid = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `required: the UUID of the ${what}` : `must be the UUID of the ${what}`) }).refine((value) => hasTemplate(value) || UUID.test(value), `must be the UUID of the ${what}`);

/** Buildbot's `callable`: given every image the project can see, returns the one to boot. */
export type ImageFunction = (images: Image[]) => Image | string | Promise<Image | string>;

export const imageSelectorSchema = z.strictObject({
  name: z
    .string()
    .refine((pattern) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional(),
  tags: z.array(z.string().min(1)).optional(),
  properties: z.record(z.string(), z.string()).optional(),
  visibility: z.enum(['public', 'private', 'shared', 'community']).optional(),
  pick: z.enum(['newest', 'oldest'], { error: 'must be "newest" or "oldest"' }),
});

export const imageSchema = z.union(
  [
    z.string().min(1),
    imageSelectorSchema,
    z.custom<ImageFunction>((value) => typeof value === 'function'),
  ],
  { error: 'must be an image UUID or name, a selector {name, tags, properties, visibility, pick}, or (in a .js/.ts config) a function' },
);

export const blockDeviceSchema = z
  .strictObject({
    uuid: uuid('image, snapshot or volume'),
    volume_size: z.number().int().positive('must be a whole number of GiB above 0').optional(),
    device_name: z.string().regex(/^[a-z]+$/, 'must be a device name such as vda or xvda').default('vda'),
    source_type: z.enum(['image', 'snapshot', 'volume'], { error: 'must be image, snapshot or volume' }).default('image'),
    destination_type: z.enum(['volume', 'local'], { error: 'must be volume or local' }).default('volume'),
    delete_on_termination: z.boolean().default(true),
    boot_index: z.number().int().min(-1, 'must be -1 (not bootable) or a boot position from 0').default(0),
  })
  .superRefine((device, context) => {
    // Nova can only copy an image to local disk; snapshots and volumes live in Cinder.
    if (device.destination_type === 'local' && device.source_type !== 'image') {
      context.addIssue({ code: 'custom', path: ['destination_type'], message: `local needs source_type image, not ${device.source_type}` });
    }
    if (device.destination_type === 'local' && device.volume_size !== undefined) {
      context.addIssue({ code: 'custom', path: ['volume_size'], message: 'only applies to destination_type volume' });
    }
  });

const nic = z
  .strictObject({
    'net-id': uuid('network').optional(),
    'net-name': z.string().min(1).optional(),
    'port-id': uuid('port').optional(),
    'v4-fixed-ip': z.ipv4().optional(),
    'v6-fixed-ip': z.ipv6().optional(),
    tag: z.string().min(1).optional(),
  })
  .refine((entry) => [entry['net-id'], entry['net-name'], entry['port-id']].filter(Boolean).length === 1, {
    message: 'each nic needs exactly one of net-id, net-name or port-id',
  });

/**
 * novaclient's `servers.create` keyword arguments, as Buildbot passed them through. The common
 * ones are checked; anything else is passed to Nova's server-create body unchanged.
 */
export const novaArgsSchema = z
  .looseObject({
    nics: z
      .union([z.literal('none'), z.literal('auto'), z.array(nic)], { error: 'must be "none", "auto", or a list of nics, each {net-id | net-name | port-id, v4-fixed-ip, v6-fixed-ip, tag}' })
      .optional(),
    availability_zone: z.string().min(1).optional(),
    security_groups: z.array(z.string().min(1)).optional(),
    config_drive: z.boolean().optional(),
    key_name: z.string().min(1).optional(),
    userdata: z.string().optional(),
    scheduler_hints: z.record(z.string(), z.unknown()).optional(),
  })
  .default({});

// Nova's limits on server metadata (nova/api/validation/parameter_types.py, and the metadata_items
// quota, 128 by default); the owner keys every server gets count against the same limit.
const NOVA_METADATA_ITEMS = 128;
const OWNER_KEY_COUNT = Object.keys(OWNER_KEYS).length;
const OWNER_KEY_PREFIX = 'latent-worker:';
export const MAX_USER_META_ITEMS = NOVA_METADATA_ITEMS - OWNER_KEY_COUNT;
const META_KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;
export const metaSchema = z
  .record(z.string().regex(META_KEY, 'metadata keys are 1-255 letters, digits, spaces or -_:.'), z.string().max(255, 'metadata values are at most 255 characters'))
  .refine((meta) => Object.keys(meta).length <= MAX_USER_META_ITEMS, {
    error: (issue) =>
      `at most ${MAX_USER_META_ITEMS} metadata items, got ${Object.keys(issue.input as object).length}: Nova allows ${NOVA_METADATA_ITEMS} (its default metadata_items quota), and ${OWNER_KEY_COUNT} mark the server as this installation's (${Object.values(OWNER_KEYS).join(', ')})`,
  })
  .refine((meta) => !Object.keys(meta).some((key) => key.startsWith(OWNER_KEY_PREFIX)), {
    error: (issue) => `metadata keys starting with "${OWNER_KEY_PREFIX}" are this project's own (${Object.keys(issue.input as object).filter((key) => key.startsWith(OWNER_KEY_PREFIX)).join(', ')})`,
  })
  .default({});
