import { novaError } from './novaFaults.js';
import { fixedQuotas, usageOf, type QuotaLimits } from './quota.js';
import { novaValidationDetail, SchemaError, validate, type Schema } from './schema.js';
import type { SimRequest, SimResponse } from './server.js';
import type { SimState, Token } from './state.js';

// GET /limits and /os-quota-sets/{project} (nova/api/openstack/compute/limits.py,
// quota_sets.py, views/limits.py), with their per-microversion key sets.

interface QuotaCtx {
  token: Token;
  minor: number;
  admin: boolean;
}

// nova-network's quotas are still reported (unlimited, never used) until 2.36 hides them;
// 2.57 hides the injected-file ones with personality.
const networkQuotas = { fixed_ips: -1, floating_ips: -1, security_groups: -1, security_group_rules: -1 };

function quotaValues(limits: QuotaLimits, minor: number): Record<string, number> {
  const all: Record<string, number> = { ...fixedQuotas, ...networkQuotas, ...limits };
  const hidden = [
    ...(minor >= 36 ? Object.keys(networkQuotas) : []),
    ...(minor >= 57 ? ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'] : []),
  ];
  return Object.fromEntries(
    Object.keys(all)
      .filter((k) => !hidden.includes(k))
      .sort()
      .map((k) => [k, all[k] as number]),
  );
}

const limitNames: Record<string, string[]> = {
  ram: ['maxTotalRAMSize'],
  instances: ['maxTotalInstances'],
  cores: ['maxTotalCores'],
  key_pairs: ['maxTotalKeypairs'],
  floating_ips: ['maxTotalFloatingIps'],
  metadata_items: ['maxServerMeta', 'maxImageMeta'],
  injected_files: ['maxPersonality'],
  injected_file_content_bytes: ['maxPersonalitySize'],
  security_groups: ['maxSecurityGroups'],
  security_group_rules: ['maxSecurityGroupRules'],
  server_groups: ['maxServerGroups'],
  server_group_members: ['maxServerGroupMembers'],
};

const usedNames: Record<string, string> = {
  ram: 'totalRAMUsed',
  cores: 'totalCoresUsed',
  instances: 'totalInstancesUsed',
  floating_ips: 'totalFloatingIpsUsed',
  security_groups: 'totalSecurityGroupsUsed',
  server_groups: 'totalServerGroupsUsed',
};

const quotaValue: Schema = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7fffffff };

function updateSchema(minor: number): Schema {
  const keys = Object.keys(quotaValues({ instances: 0, cores: 0, ram: 0 }, minor));
  return {
    type: 'object',
    properties: {
      quota_set: {
        type: 'object',
        properties: {
          ...Object.fromEntries(keys.map((k) => [k, quotaValue])),
          ...(minor < 36 ? { networks: quotaValue } : {}),
          force: { type: ['boolean', 'string'] },
        },
        additionalProperties: false,
      },
    },
    required: ['quota_set'],
    additionalProperties: false,
  };
}

export function novaQuotaHandlers(state: SimState) {
  const usage = (projectId: string) => usageOf(state.serverRecords(), projectId, (id) => state.flavors.find((f) => f.id === id));

  /** Nova asks Keystone whether the project exists (nova/api/openstack/identity.py). */
  const knownProject = (id: string): string => {
    if (!state.projects.has(id)) throw novaError(400, `Project ID ${id} is not a valid project.`);
    return id;
  };

  const policy = (ctx: QuotaCtx, action: string, projectId: string, adminOnly: boolean): void => {
    if (ctx.admin || (!adminOnly && ctx.token.project.id === projectId)) return;
    throw novaError(403, `Policy doesn't allow os_compute_api:os-quota-sets:${action} to be performed.`);
  };

  function limits(req: SimRequest, ctx: QuotaCtx): SimResponse {
    const tenant = req.query.tenant_id;
    if (tenant !== undefined && !ctx.admin) {
      throw novaError(403, "Policy doesn't allow os_compute_api:limits:other_project to be performed.");
    }
    const projectId = typeof tenant === 'string' ? tenant : ctx.token.project.id;
    const values = quotaValues(state.quotas.limits(projectId), ctx.minor);
    const used: Record<string, number> = { ...usage(projectId) };
    const absolute: Record<string, number> = {};
    for (const [resource, value] of Object.entries(values)) {
      for (const name of limitNames[resource] ?? []) {
        // 2.39 removed the image-metadata proxy, and its limit with it.
        if (name === 'maxImageMeta' && ctx.minor >= 39) continue;
        absolute[name] = value;
      }
      const usedName = usedNames[resource];
      if (usedName) absolute[usedName] = used[resource] ?? 0;
    }
    return { status: 200, json: { limits: { rate: [], absolute } } };
  }

  function show(req: SimRequest, ctx: QuotaCtx): SimResponse {
    const projectId = req.params.project_id ?? '';
    policy(ctx, 'show', projectId, false);
    knownProject(projectId);
    return { status: 200, json: { quota_set: { id: projectId, ...quotaValues(state.quotas.limits(projectId), ctx.minor) } } };
  }

  function defaults(req: SimRequest, ctx: QuotaCtx): SimResponse {
    const projectId = knownProject(req.params.project_id ?? '');
    return { status: 200, json: { quota_set: { id: projectId, ...quotaValues(state.quotas.defaultLimits(), ctx.minor) } } };
  }

  function update(req: SimRequest, ctx: QuotaCtx): SimResponse {
    const projectId = req.params.project_id ?? '';
    if (req.body.kind === 'malformed') throw novaError(400, 'Malformed request body');
    const body = req.body.kind === 'json' ? req.body.value : null;
    try {
      validate(updateSchema(ctx.minor), body);
    } catch (error) {
      if (error instanceof SchemaError) throw novaError(400, novaValidationDetail(error, 'body'));
      throw error;
    }
    policy(ctx, 'update', projectId, true);
    knownProject(projectId);
    const requested = (body as { quota_set: Record<string, unknown> }).quota_set;
    if ('networks' in requested) throw novaError(400, 'The networks quota has been removed');
    const force = ['1', 't', 'true', 'on', 'y', 'yes'].includes(String(requested.force ?? 'false').toLowerCase());
    const inUse = usage(projectId);
    const changes: Partial<QuotaLimits> = {};
    for (const resource of ['instances', 'cores', 'ram'] as const) {
      const raw = requested[resource];
      if (raw === undefined || raw === null || raw === '') continue;
      const limit = Number(raw);
      if (!force && limit !== -1 && limit < inUse[resource]) {
        throw novaError(
          400,
          `Quota limit ${limit} for ${resource} must be greater than or equal to already used and reserved ${inUse[resource]}.`,
        );
      }
      changes[resource] = limit;
    }
    const result = quotaValues(state.quotas.set(projectId, changes), ctx.minor);
    return { status: 200, json: { quota_set: result } };
  }

  function reset(req: SimRequest, ctx: QuotaCtx): SimResponse {
    const projectId = req.params.project_id ?? '';
    policy(ctx, 'delete', projectId, true);
    knownProject(projectId);
    state.quotas.reset(projectId);
    return { status: 202 };
  }

  return { limits, show, defaults, update, reset };
}
