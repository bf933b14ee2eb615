import { z } from 'zod';
import { blockDeviceSchema, imageSchema, metaSchema, novaArgsSchema } from './serverOptions.js';
import { osAuthArgsSchema } from './authArgs.js';
import { cloudLimitsSchema } from './limits.js';
import { boundedSeconds, buildWaitSeconds, TIMEOUT_BOUNDS } from '../contract/timeouts.js';

// Worker definitions use the argument names of Buildbot's OpenStackLatentWorker, so a Buildbot
// user's `worker.OpenStackLatentWorker('bot2', 'sekrit', flavor=1, image=..., os_username=...)`
// carries over key for key.

// The name becomes part of the workflow id and of the server name, so it is kept to characters
// that are safe in both (Nova accepts more, but hostnames derived from it do not).
const workerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');

const clientVersion = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().regex(/^(1\.1|2|2\.\d+)$/, 'must be "1.1" (deprecated), "2" or "2.N" (a compute microversion)'));

const workerFields = z.strictObject({
  name: workerName,
  // The CI worker's login to the master. It is the master's secret: kept here so a Buildbot
  // config carries over unchanged, but never sent to a workflow.
  password: z.string().optional(),
  flavor: z
    .union([z.string().min(1), z.number().int().nonnegative()], {
      error: (issue) => (issue.input === undefined ? 'required: a flavor id or name' : 'must be a flavor id or name (text, or a whole number)'),
    })
    .transform(String),
  image: imageSchema.optional(),
  block_devices: z.array(blockDeviceSchema).min(1, 'give at least one block device, or leave block_devices out').optional(),
  os_username: z.string().min(1).optional(),
  os_password: z.string().min(1).optional(),
  os_tenant_name: z.string().min(1).optional(),
  os_auth_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://keystone.example.org:5000/v3' }).optional(),
  os_user_domain: z.string().min(1).optional(),
  os_project_domain: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  // Keystone auth fields beyond the os_* ones (application credentials, ids, tokens): the keys of
  // a clouds.yaml cloud's `auth:` plus `auth_type`. docs/credentials.md has the precedence.
  os_auth_args: osAuthArgsSchema.optional(),
  // A cloud of clouds.yaml / secure.yaml, as OS_CLOUD names one; explicit os_* arguments win over it.
  cloud: z.string().min(1).optional(),
  meta: metaSchema,
  nova_args: novaArgsSchema,
  client_version: clientVersion.default('1.1'),
  // Buildbot's code defaults to an hour; its documentation (and we) say 20 minutes.
  missing_timeout: boundedSeconds('missing_timeout', TIMEOUT_BOUNDS.missingTimeout).default(20 * 60),
  boot_timeout: boundedSeconds('boot_timeout', TIMEOUT_BOUNDS.bootTimeout).default(10 * 60),
  // Buildbot's meaning: 0 releases the worker after each build, a negative value never.
  build_wait_timeout: buildWaitSeconds('build_wait_timeout').default(10 * 60),
  launch_attempts: z.number().int().min(1, 'must be at least 1').max(20, 'must be at most 20').default(3),
  notify_on_missing: z.union([z.email(), z.array(z.email())], { error: 'must be an email address or a list of them' }).default([]).transform((v) => (Array.isArray(v) ? v : [v])),
});

export const workerDefinitionSchema = workerFields.refine((worker) => worker.image !== undefined || worker.block_devices !== undefined, {
  message: 'give image, block_devices, or both (as the seed document allows)',
  path: ['image'],
});

/** Marks this installation's servers, so that its reaper never touches another's on a shared project. */
export const deploymentSchema = z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, 'must be 1-63 letters, digits, ".", "_" or "-"');

const reaperSchema = z.strictObject({
  intervalSeconds: boundedSeconds('intervalSeconds', TIMEOUT_BOUNDS.reaperInterval).int('must be a whole number of seconds').default(300),
  // A server this young may come from a create still in flight for a run that has just closed.
  graceSeconds: boundedSeconds('graceSeconds', TIMEOUT_BOUNDS.reaperGrace).default(600),
});

// A delete never gives up on a server Nova still has; past this it is reported once, and goes on.
const deletesSchema = z.strictObject({
  reportAfterSeconds: boundedSeconds('reportAfterSeconds', TIMEOUT_BOUNDS.deleteReportAfter).default(1800),
});

export const configFileSchema = z.strictObject({
  workers: z
    .array(workerDefinitionSchema, { error: (issue) => (issue.input === undefined ? 'required: a list of worker definitions' : 'must be a list of worker definitions') })
    .min(1, 'define at least one worker'),
  deployment: deploymentSchema.default('default'),
  reaper: reaperSchema.default({ intervalSeconds: 300, graceSeconds: 600 }),
  deletes: deletesSchema.default({ reportAfterSeconds: 1800 }),
  // Per-cloud request rate, concurrent creates, server cap and look-up cache (src/config/limits.ts).
  cloud_limits: cloudLimitsSchema.default({}),
  // Checked by resolveNotifySettings, which layers LATENT_WORKER_SMTP_* / _WEBHOOK_* over it first.
  notify: z.unknown().optional(),
}, { error: (issue) => (issue.code === 'invalid_type' ? 'the file must hold a mapping with a "workers:" list' : undefined) });

export type WorkerDefinition = z.output<typeof workerDefinitionSchema>;
export type ConfigFile = z.output<typeof configFileSchema>;
export type ReaperSettings = z.output<typeof reaperSchema>;
export type DeleteSettings = z.output<typeof deletesSchema>;
