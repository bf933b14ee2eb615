import type { FlavorRecord, ServerRecord } from './state.js';

// Nova's per-project compute quota (DbQuotaDriver, counted usage): limits on instances, cores
// and RAM, the 403 an over-quota create gets (nova/compute/utils.py check_num_instances_quota),
// and the numbers /limits and os-quota-sets show. -1 means unlimited, as in Nova.

export interface QuotaLimits {
  instances: number;
  cores: number;
  ram: number;
}

export type QuotaResource = keyof QuotaLimits;

/** Nova's configured defaults ([quota] instances, cores, ram). */
export const novaDefaultQuota: Readonly<QuotaLimits> = { instances: 10, cores: 20, ram: 51200 };
/** The simulator's default: tests and benchmarks that want a quota set one. */
export const unlimitedQuota: Readonly<QuotaLimits> = { instances: -1, cores: -1, ram: -1 };

/** The other resources Nova reports, at Nova's defaults; nothing here counts or enforces them. */
export const fixedQuotas = {
  metadata_items: 128,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  key_pairs: 100,
  server_groups: 10,
  server_group_members: 10,
} as const;

/** Drops resources given as undefined, so that spreading the result never unsets a limit. */
export const definedLimits = (limits: Partial<QuotaLimits>): Partial<QuotaLimits> =>
  Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));

export class Quotas {
  private readonly perProject = new Map<string, Partial<QuotaLimits>>();

  constructor(private readonly defaults: Readonly<QuotaLimits>) {}

  limits(projectId: string): QuotaLimits {
    return { ...this.defaults, ...this.perProject.get(projectId) };
  }

  defaultLimits(): QuotaLimits {
    return { ...this.defaults };
  }

  /** Only the given resources change; the others keep their current limit. */
  set(projectId: string, limits: Partial<QuotaLimits>): QuotaLimits {
    this.perProject.set(projectId, { ...this.perProject.get(projectId), ...definedLimits(limits) });
    return this.limits(projectId);
  }

  /** Back to the defaults, like `DELETE /os-quota-sets/{project}`. */
  reset(projectId: string): void {
    this.perProject.delete(projectId);
  }
}

/**
 * Nova counts instances in its cell databases: every server not yet gone, in BUILD, ERROR or
 * being deleted alike, except build requests the scheduler has not placed yet.
 */
export function usageOf(servers: readonly ServerRecord[], projectId: string, flavor: (id: string) => FlavorRecord | undefined): QuotaLimits {
  const usage: QuotaLimits = { instances: 0, cores: 0, ram: 0 };
  for (const server of servers) {
    if (server.projectId !== projectId || server.vmState === 'deleted' || server.taskState === 'scheduling') continue;
    const f = flavor(server.flavorId);
    usage.instances += 1;
    usage.cores += f?.vcpus ?? 0;
    usage.ram += f?.ram ?? 0;
  }
  return usage;
}

export type Admission = { ok: true; count: number } | { ok: false; message: string };

const resources: readonly QuotaResource[] = ['cores', 'instances', 'ram'];

/** How many of min..max servers of this flavor fit, or Nova's TooManyInstances message. */
export function admit(limits: QuotaLimits, usage: QuotaLimits, flavor: FlavorRecord, minCount: number, maxCount: number): Admission {
  const deltas: QuotaLimits = { instances: maxCount, cores: maxCount * flavor.vcpus, ram: maxCount * flavor.ram };
  // Sorted, as nova/quota.py raises OverQuota(overs=sorted(overs)).
  const overs = resources.filter((r) => limits[r] >= 0 && limits[r] < usage[r] + deltas[r]);
  if (overs.length === 0) return { ok: true, count: maxCount };

  const headroom = (r: QuotaResource): number => (limits[r] === -1 ? Infinity : limits[r] - usage[r]);
  let allowed = headroom('instances');
  if (flavor.vcpus) allowed = Math.min(allowed, Math.floor(headroom('cores') / flavor.vcpus));
  if (flavor.ram) allowed = Math.min(allowed, Math.floor(headroom('ram') / flavor.ram));
  if (allowed > 0 && minCount <= allowed && allowed <= maxCount) return { ok: true, count: allowed };

  const requested: Record<QuotaResource, string> = {
    instances: minCount === maxCount ? String(minCount) : `${minCount}-${maxCount}`,
    cores: String(deltas.cores),
    ram: String(deltas.ram),
  };
  const join = (f: (r: QuotaResource) => string): string => overs.map(f).join(', ');
  const names = join((r) => r);
  return {
    ok: false,
    message: `Quota exceeded for ${names}: Requested ${join((r) => requested[r])}, but already used ${join((r) => String(usage[r]))} of ${join((r) => String(limits[r]))} ${names}`,
  };
}

/**
 * nova-conductor's re-check once a server is placed (check_num_instances_quota with zero deltas):
 * the message of the fault that puts it in ERROR, or undefined when usage is within the limits.
 * Nova reports the limit itself as "already used" here.
 */
export function recheck(limits: QuotaLimits, usage: QuotaLimits, flavor: FlavorRecord): string | undefined {
  const overs = resources.filter((r) => limits[r] >= 0 && limits[r] < usage[r]);
  if (overs.length === 0) return undefined;
  const requested: Record<QuotaResource, number> = { instances: 1, cores: flavor.vcpus, ram: flavor.ram };
  const join = (f: (r: QuotaResource) => string): string => overs.map(f).join(', ');
  const names = join((r) => r);
  const allowed = join((r) => String(limits[r]));
  return `Quota exceeded for ${names}: Requested ${join((r) => String(requested[r]))}, but already used ${allowed} of ${allowed} ${names}`;
}
