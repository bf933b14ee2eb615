import { z } from 'zod';
import { osAuthArgsSchema } from './authArgs.js';
import { resolveCredentials } from './credentials.js';
import { ConfigError } from './errors.js';
import { cloudLabel } from './credentials.js';
import { DEFAULT_CLOUD_LIMITS } from './limits.js';
import type { ResolvedWorker } from './load.js';
import type { WorkerDefinition } from './schema.js';
import { unseal, type SealingKey } from './sealing.js';

// A worker defined in the CI master (Buildbot's master.cfg) rather than in the worker fleet's
// config: its spec travels in the workflow input, its account arguments sealed beside it
// (spec.sealedCredentials). Only a worker process can open them, in the activity that needs them.

/** The account arguments a master may seal: those of OpenStackLatentWorker, and a clouds.yaml name. */
export const masterAccountSchema = z.strictObject({
  os_username: z.string().min(1).optional(),
  os_password: z.string().min(1).optional(),
  os_tenant_name: z.string().min(1).optional(),
  os_auth_url: z.url({ protocol: /^https?$/ }).optional(),
  os_user_domain: z.string().min(1).optional(),
  os_project_domain: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  os_auth_args: osAuthArgsSchema.optional(),
  cloud: z.string().min(1).optional(),
  /** The compute API version the master asks for: the client that uses the account speaks it. */
  client_version: z.string().regex(/^(1\.1|2|2\.\d+)$/),
});
export type MasterAccount = z.output<typeof masterAccountSchema>;

type Env = Record<string, string | undefined>;

/**
 * The worker a master defined, with the credentials it sealed. A named `cloud` is read from the
 * fleet's clouds.yaml; the fleet's own OS_* variables never fill in what the master left out.
 */
export function masterDefinedWorker(name: string, sealed: string, keys: readonly SealingKey[], env: Env): ResolvedWorker {
  const opened = unseal(sealed, keys, name);
  let account: MasterAccount;
  try {
    account = masterAccountSchema.parse(JSON.parse(opened));
  } catch {
    // The account's values are secret: name only the keys, never what they hold.
    throw new ConfigError(`worker "${name}": the sealed account arguments are not a mapping of ${Object.keys(masterAccountSchema.shape).join(', ')}`);
  }
  // Only the account and the client version matter to the cloud calls: the server's shape comes in
  // each activity's input, so the rest is left at the config file's defaults.
  const definition: WorkerDefinition = {
    ...account,
    name,
    flavor: 'defined-by-the-master',
    meta: {},
    nova_args: {},
    missing_timeout: 20 * 60,
    boot_timeout: 10 * 60,
    build_wait_timeout: 10 * 60,
    launch_attempts: 3,
    notify_on_missing: [],
  };
  const credentials = resolveCredentials(definition, cloudsYamlOnly(env));
  return {
    definition,
    credentials,
    limits: { ...DEFAULT_CLOUD_LIMITS },
    specFor: () => {
      throw new ConfigError(`worker "${name}" (${cloudLabel(credentials)}) is defined by its CI master, which renders its spec`);
    },
  };
}

/** Where clouds.yaml is looked for, and nothing else of the fleet's OpenStack environment. */
function cloudsYamlOnly(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('OS_') || name === 'OS_CLIENT_CONFIG_FILE' || name === 'OS_CLIENT_SECURE_FILE'));
}
