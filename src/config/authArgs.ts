import { z } from 'zod';

/** keystoneauth plugin names, as clouds.yaml's `auth_type` and `OS_AUTH_TYPE` spell them. */
export const AUTH_TYPES = ['password', 'v3password', 'v2password', 'v3applicationcredential', 'v3token', 'token'] as const;
export type AuthTypeName = (typeof AUTH_TYPES)[number];

const text = z.string().min(1).optional();

/**
 * A worker's `os_auth_args`: the keys of a clouds.yaml cloud's `auth:` map plus `auth_type`, as
 * Buildbot's argument of the same name takes them. Unknown keys are refused so that a typo does
 * not silently fall back to another credential source.
 */
export const osAuthArgsSchema = z.strictObject({
  auth_type: z.enum(AUTH_TYPES, { error: `must be one of ${AUTH_TYPES.join(', ')}` }).optional(),
  auth_url: z.url({ error: 'must be an http(s) URL such as https://keystone.example.org:5000/v3' }).optional(),
  username: text,
  user_id: text,
  password: text,
  user_domain_name: text,
  user_domain_id: text,
  project_name: text,
  project_id: text,
  tenant_name: text,
  tenant_id: text,
  project_domain_name: text,
  project_domain_id: text,
  application_credential_id: text,
  application_credential_name: text,
  application_credential_secret: text,
  token: text,
});

export type OsAuthArgs = z.output<typeof osAuthArgsSchema>;
