import { readdirSync, readFileSync } from 'node:fs';
import { readProc } from '../procStats.js';

// Where the CPU of the machine went while one way of the real-cloud benchmark ran: every process
// whose command line names a service of the local cloud or of this project, summed by service.
// The cloud and the clients share the same cores, so a way that makes Nova slower may do it by
// loading Nova, or by taking the cores from it; the two show up differently here.

const GROUPS: readonly (readonly [name: string, pattern: RegExp])[] = [
  ['nova-api', /nova-api/],
  ['nova-conductor', /nova-conductor/],
  ['nova-scheduler', /nova-scheduler/],
  ['nova-compute', /nova-compute/],
  ['placement', /placement/],
  ['keystone', /keystone/],
  ['glance', /glance/],
  ['mariadb', /mariadbd|mysqld/],
  ['rabbitmq', /beam\.smp|rabbitmq/],
  ['temporal', /\btemporal(-server)?\b.*\b(server|start-dev)\b|temporal server/],
  ['latent-worker', /cli\.(js|ts)\b.*\bworker\b|latent-worker\b.*\bworker\b/],
  ['bench', /bench-openstack/],
];

export type CpuByGroup = Record<string, number>;

function groupOf(cmdline: string): string {
  for (const [name, pattern] of GROUPS) if (pattern.test(cmdline)) return name;
  return 'other';
}

/** CPU seconds so far of every live process, summed by group. */
export function cpuByGroup(): CpuByGroup {
  const totals: CpuByGroup = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (cmdline === '') continue;
    const sample = readProc(Number(entry));
    if (!sample) continue;
    const group = groupOf(cmdline);
    totals[group] = (totals[group] ?? 0) + sample.cpuSeconds;
  }
  return totals;
}

/**
 * CPU spent between two readings, by group. A process that started in between counts from 0; one
 * that ended in between is lost, which the report's `other` and the wall time put in proportion.
 */
export function cpuSpent(before: CpuByGroup, after: CpuByGroup): CpuByGroup {
  const spent: CpuByGroup = {};
  for (const [group, seconds] of Object.entries(after)) {
    const delta = seconds - (before[group] ?? 0);
    if (delta > 0.005) spent[group] = Math.round(delta * 100) / 100;
  }
  return spent;
}
