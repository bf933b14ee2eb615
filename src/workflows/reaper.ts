import { log, setCurrentDetails } from '@temporalio/workflow';
import type { DeploymentServer, OwnerRef, OwnerState } from '../activities/reaper.js';
import { reaperCalls, reaperDeletion } from './activityStubs.js';

export interface ReaperInput {
  /** A server younger than this is kept whatever its owner's state; default 600. */
  graceSeconds?: number;
  /** Report the orphans, delete nothing. */
  dryRun?: boolean;
}

export interface Orphan {
  serverId: string;
  name: string;
  cloud: string;
  created: string;
  /** The run named by the server's metadata; absent when it names none. */
  owner?: OwnerRef;
  reason: string;
}

export interface ReaperReport {
  deployment: string;
  dryRun: boolean;
  graceSeconds: number;
  /** Servers of this deployment seen, on every cloud that could be listed. */
  scanned: number;
  /** Owned by a running lifecycle, younger than the grace period, or of an owner in a state we cannot judge. */
  kept: number;
  orphans: Orphan[];
  /** Orphans deleted and confirmed gone (none in a dry run). */
  deleted: Orphan[];
  /**
   * Kept because this namespace knows no run of their owner's workflow id: another installation
   * with the same `deployment`, or a lifecycle whose history is past retention. Never deleted
   * by the reaper; say which by giving each installation its own `deployment`.
   */
  foreign?: Orphan[];
  /** Orphans whose delete did not finish; the next run tries again. */
  failed: (Orphan & { error: string })[];
  /** Clouds that could not be listed in this run: their servers were not judged. */
  unlisted: { cloud: string; error: string }[];
}

const DEFAULT_GRACE_SECONDS = 600;
/** Owner states that mean a lifecycle still holds its server (CARRIED_ON: in a later run of its chain, after a reset). */
const ALIVE = new Set<OwnerState>(['RUNNING', 'PAUSED', 'CARRIED_ON']);
/** Owner states that say nothing either way: the server is kept rather than guessed about. */
const UNDECIDED = new Set<OwnerState>(['UNSPECIFIED', 'UNKNOWN']);

/**
 * Finds this deployment's servers that no running lifecycle owns (a terminated lifecycle skips its
 * cleanup) and deletes them, once they are older than the grace period so that a create still in
 * flight is never mistaken for a leak.
 */
export async function orphanReaper({ graceSeconds = DEFAULT_GRACE_SECONDS, dryRun = false }: ReaperInput = {}): Promise<ReaperReport> {
  const { deployment, clouds } = await reaperCalls.reaperTargets.executeWithOptions({ summary: 'which clouds the configured workers use' }, []);
  const report: ReaperReport = { deployment, dryRun, graceSeconds, scanned: 0, kept: 0, orphans: [], deleted: [], failed: [], unlisted: [] };

  const listings = await Promise.allSettled(
    clouds.map((cloud) => reaperCalls.listDeploymentServers.executeWithOptions({ summary: `list servers of deployment ${deployment} on ${cloud.cloud}` }, [cloud])),
  );
  const servers: DeploymentServer[] = [];
  listings.forEach((listing, index) => {
    if (listing.status === 'fulfilled') servers.push(...listing.value);
    else report.unlisted.push({ cloud: clouds[index]!.cloud, error: messageOf(listing.reason) });
  });
  report.scanned = servers.length;

  const owners = distinctOwners(servers);
  const states =
    owners.length === 0 ? [] : await reaperCalls.describeOwners.executeWithOptions({ summary: `look up the ${owners.length} owning workflow run(s)` }, [{ owners }]);
  const stateOf = new Map(owners.map((owner, index) => [ownerKey(owner), states[index]!]));

  const now = Date.now();
  for (const server of servers) {
    const state = server.owner && stateOf.get(ownerKey(server.owner));
    if (state === 'FOREIGN') {
      report.kept += 1;
      (report.foreign ??= []).push({ serverId: server.serverId, name: server.name, cloud: server.cloud, created: server.created, owner: server.owner!, reason: `no run of ${server.owner!.workflowId} in this namespace` });
      continue;
    }
    const reason = orphanReason(server, state, now, graceSeconds);
    if (reason === undefined) report.kept += 1;
    else report.orphans.push({ serverId: server.serverId, name: server.name, cloud: server.cloud, created: server.created, ...(server.owner ? { owner: server.owner } : {}), reason });
  }

  if (!dryRun) {
    const workerOf = new Map(servers.map((server) => [server.serverId, server.workerName]));
    const deletions = await Promise.allSettled(
      report.orphans.map((orphan) =>
        reaperDeletion.deleteServer.executeWithOptions({ summary: `delete orphan ${orphan.name} (${orphan.reason}) until gone` }, [
          { workerName: workerOf.get(orphan.serverId)!, serverId: orphan.serverId },
        ]),
      ),
    );
    deletions.forEach((deletion, index) => {
      const orphan = report.orphans[index]!;
      if (deletion.status === 'fulfilled') report.deleted.push(orphan);
      else report.failed.push({ ...orphan, error: messageOf(deletion.reason) });
    });
  }

  showReport(report);
  return report;
}

/** Why the server is an orphan, or undefined when it must be kept. */
function orphanReason(server: DeploymentServer, state: OwnerState | undefined, now: number, graceSeconds: number): string | undefined {
  if (state !== undefined && (ALIVE.has(state) || UNDECIDED.has(state))) return undefined;
  // An unparseable creation time counts as young: never delete what cannot be aged.
  const ageMs = now - Date.parse(server.created);
  if (!(ageMs >= graceSeconds * 1000)) return undefined;
  const age = `${Math.floor(ageMs / 1000)} s old`;
  if (!server.owner) return `no owning workflow run in its metadata, ${age}`;
  if (state === 'NOT_FOUND') return `owner ${server.owner.workflowId} run ${server.owner.runId} does not exist, ${age}`;
  return `owner ${server.owner.workflowId} run ${server.owner.runId} is ${state!.toLowerCase()}, ${age}`;
}

function distinctOwners(servers: DeploymentServer[]): OwnerRef[] {
  const owners = new Map<string, OwnerRef>();
  for (const { owner } of servers) if (owner) owners.set(ownerKey(owner), owner);
  return [...owners.values()];
}

function ownerKey({ workflowId, runId }: OwnerRef): string {
  return `${runId} ${workflowId}`;
}

function messageOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

function showReport(report: ReaperReport): void {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `**deployment ${report.deployment}**: ${report.scanned} server(s) scanned, ${report.kept} kept, ${report.orphans.length} orphan(s)${report.dryRun ? ' (dry run)' : ''}`,
    ...(report.dryRun ? report.orphans : report.deleted).map((orphan) => `- ${verb} \`${orphan.name}\` \`${orphan.serverId}\`: ${orphan.reason}`),
    ...report.failed.map((orphan) => `- could not delete \`${orphan.name}\` \`${orphan.serverId}\`: ${orphan.error}`),
    ...report.unlisted.map(({ cloud, error }) => `- could not list ${cloud}: ${error}`),
    ...(report.foreign ?? []).map((server) => `- kept \`${server.name}\` \`${server.serverId}\`: ${server.reason} (another installation with deployment ${report.deployment}?)`),
  ];
  setCurrentDetails(lines.join('\n'));
  if (report.failed.length > 0 || report.unlisted.length > 0) log.warn('reaper run incomplete', { failed: report.failed.length, unlisted: report.unlisted.length });
  if (report.foreign?.length) {
    log.warn(`${report.foreign.length} server(s) carry deployment ${report.deployment} but their owners are unknown to this namespace: kept; give each installation its own deployment`, { foreign: report.foreign.map((server) => server.serverId) });
  }
}
