import { activityInfo, cancellationSignal, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isOpenStackError, type OpenStackClient, type Server } from '../openstack/index.js';
import type { WatchOutcome } from '../openstack/serverWatcher.js';
import type { BlockDeviceSpec } from '../workflows/types.js';
import type { CloudRegistry, CloudShare } from './cloudRegistry.js';
import { cloudCall } from './failures.js';
import { OWNER_KEYS } from './ownerKeys.js';
import { buildServerRequest, type ResolvedNic } from './serverRequest.js';

export interface ServerOwner {
  workflowId: string;
  runId: string;
  /** The launch number: 1 for the first server of a run, 2 for its replacement, ... */
  attempt: number;
}

export interface CreateServerInput {
  workerName: string;
  serverName: string;
  imageId?: string;
  /** A flavor id or name. */
  flavor: string;
  blockDevices?: BlockDeviceSpec[];
  meta: Record<string, string>;
  novaArgs?: Record<string, unknown>;
  clientVersion: string;
  owner: ServerOwner;
}

export interface CreatedServer {
  id: string;
  name: string;
  /** True when an earlier try of this step had already created it. */
  adopted: boolean;
}

export interface ServerRef {
  workerName: string;
  serverId: string;
}

export interface WaitForActiveInput extends ServerRef {
  clientVersion: string;
  /** ISO time after which the boot counts as failed; fixed by the workflow so retries keep it. */
  deadline: string;
}

export interface ServerActivityOptions {
  /**
   * The installation that owns the servers, from the worker process's config: kept out of the
   * workflow input so that running lifecycles and their histories stay as they are.
   */
  deployment: string;
}

const GiB = 1024 ** 3;
const CONSOLE_TAIL_LINES = 30;
/** Heartbeats are local calls (the SDK sends them on at most every 80% of the heartbeat timeout): cheap at any number of waits. */
const HEARTBEAT_EVERY_MS = 5000;
/**
 * A create waits this long at most for one of its cloud's `max_concurrent_creates` slots; the
 * activity's own retries follow. With the wait for room under `max_servers` it stays well inside
 * the create activity's 2-minute start-to-close timeout.
 */
const CREATE_SLOT_WAIT_MS = 40_000;
/** setTimeout's limit: a later boot deadline is as good as none for one activity attempt. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function serverActivities(clouds: CloudRegistry, { deployment }: ServerActivityOptions) {
  async function createServer(input: CreateServerInput): Promise<CreatedServer> {
    const cloud = clouds.forWorker(input.workerName);
    const share = clouds.shareFor(input.workerName);
    const signal = cancellationSignal();
    const options = { signal };
    // Only a retry can follow a create whose answer was lost: a first attempt has nothing to adopt
    // (names are per run and launch), and skips a list call per server.
    if (activityInfo().attempt > 1) {
      const existing = await cloudCall(() => findOwnedServer(cloud, input, options));
      if (existing) return { id: existing.id, name: existing.name, adopted: true };
    }

    const flavor = await cloudCall(() => share.lookups.get(`flavor:${input.flavor}`, () => cloud.compute.getFlavor(input.flavor), signal));
    const blockDevices = input.blockDevices && (await cloudCall(() => withVolumeSizes(cloud, share, input.blockDevices!, options)));
    const novaArgs = input.novaArgs ?? {};
    const nics = await cloudCall(() => resolveNics(cloud, share, novaArgs.nics as NicsArg | undefined, options));
    const request = buildServerRequest({
      name: input.serverName,
      imageId: input.imageId,
      flavorId: flavor.id,
      blockDevices,
      metadata: {
        ...input.meta,
        [OWNER_KEYS.deployment]: deployment,
        [OWNER_KEYS.workflowId]: input.owner.workflowId,
        [OWNER_KEYS.runId]: input.owner.runId,
        [OWNER_KEYS.attempt]: String(input.owner.attempt),
      },
      novaArgs,
      nics,
    });
    const release = await share.createSlots.acquire(
      CREATE_SLOT_WAIT_MS,
      () => ApplicationFailure.retryable(`no create slot free within ${CREATE_SLOT_WAIT_MS / 1000} s (max_concurrent_creates ${share.limits.maxConcurrentCreates} of ${share.name})`, 'CreateSlotTimeout'),
      signal,
    );
    try {
      const reserved = await share.cap?.reserve(signal);
      const sentAt = Date.now();
      try {
        const created = await cloudCall(() => cloud.compute.createServer(request.server, { ...options, schedulerHints: request.schedulerHints }));
        reserved?.(true);
        clouds.watcherFor(input.workerName).remember(created.id, sentAt);
        return { id: created.id, name: input.serverName, adopted: false };
      } catch (error) {
        // Without an answer from Nova the server may exist all the same: count it until the next recount says otherwise.
        reserved?.(!refused(error));
        throw error;
      }
    } catch (error) {
      // Nova refused what a look-up gave (a flavor, image or network gone since): look again next time.
      if ([400, 404].includes(statusOf(error) ?? 0)) share.lookups.clear();
      throw error;
    } finally {
      release();
    }
  }

  /**
   * Waits on the cloud's shared status poller, not by polling this one server: one list call per
   * tick serves every boot of the cloud. At the deadline the server is looked at once more, so
   * the failure says what state it was left in.
   */
  async function waitForActive({ workerName, serverId, deadline }: WaitForActiveInput): Promise<void> {
    const cloud = clouds.forWorker(workerName);
    const watcher = clouds.watcherFor(workerName);
    const cancelled = cancellationSignal();
    const untilDeadline = AbortSignal.timeout(Math.min(MAX_TIMER_MS, Math.max(0, Date.parse(deadline) - Date.now())));
    let outcome: WatchOutcome | 'deadline';
    try {
      outcome = await whileHeartbeating(
        () => watcher.statusOf(serverId),
        () => cloudCall(() => watcher.watch(serverId, 'active', { signal: AbortSignal.any([cancelled, untilDeadline]) })),
      );
    } catch (error) {
      if (cancelled.aborted || !untilDeadline.aborted) throw error;
      outcome = 'deadline';
    }
    if (outcome === 'deadline') {
      const server = await cloudCall(() => cloud.compute.getServer(serverId, { signal: cancelled }));
      heartbeat(server?.status);
      return judgeBoot(cloud, serverId, server, deadline);
    }
    return judgeBoot(cloud, serverId, outcome.kind === 'gone' ? undefined : outcome.server);
  }

  /** Deletes and then waits, on the cloud's shared status poller, until Nova no longer shows the server; a 404 counts as done. */
  async function deleteServer({ workerName, serverId }: ServerRef): Promise<void> {
    const nova = clouds.forWorker(workerName).compute;
    const watcher = clouds.watcherFor(workerName);
    const signal = cancellationSignal();
    const sentAt = Date.now();
    if ((await cloudCall(() => nova.deleteServer(serverId, { signal }))) === 'already-gone') return;
    await whileHeartbeating(
      () => watcher.statusOf(serverId) ?? 'deleting',
      () => cloudCall(() => watcher.watch(serverId, 'gone', { signal, since: sentAt })),
    );
  }

  return { createServer, waitForActive, deleteServer };
}

/** ACTIVE: done. ERROR, gone, or (with a deadline) anything else: the typed failure the workflow acts on. */
async function judgeBoot(cloud: OpenStackClient, serverId: string, server: Server | undefined, deadline?: string): Promise<void> {
  if (!server) throw ApplicationFailure.nonRetryable(`server ${serverId} disappeared while booting`, 'ServerVanished');
  if (server.status === 'ACTIVE') return;
  if (server.status === 'ERROR') {
    const fault = server.fault?.message ?? 'no fault given';
    // A scheduler that found no room reports it as the fault of an ERROR server.
    const type = /quota|no valid host/i.test(fault) ? 'ServerQuotaExceeded' : 'ServerError';
    throw ApplicationFailure.create({
      message: `server ${serverId} went to ERROR while booting: ${fault}`,
      type,
      nonRetryable: true,
      details: [{ status: server.status, fault, consoleTail: await consoleTail(cloud, serverId) }],
    });
  }
  throw ApplicationFailure.create({
    message: `server ${serverId} was still ${server.status} at its boot deadline ${deadline}`,
    type: 'BootTimeout',
    nonRetryable: true,
    details: [{ status: server.status, consoleTail: await consoleTail(cloud, serverId) }],
  });
}

/** Runs `wait` while heartbeating the latest status, so that a crash is noticed and a cancellation delivered. */
async function whileHeartbeating<T>(status: () => string | undefined, wait: () => Promise<T>): Promise<T> {
  heartbeat(status());
  const timer = setInterval(() => heartbeat(status()), HEARTBEAT_EVERY_MS);
  try {
    return await wait();
  } finally {
    clearInterval(timer);
  }
}

/** Nova answered, and said no: nothing was made. */
function refused(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** The HTTP status of a failed cloud call, as `cloudCall` recorded it. */
function statusOf(error: unknown): number | undefined {
  if (isOpenStackError(error)) return error.status;
  return error instanceof ApplicationFailure ? (error.details?.[0] as { status?: number } | undefined)?.status : undefined;
}

/** A create whose response was lost still left a server: find it by its name and owner. */
async function findOwnedServer(cloud: OpenStackClient, input: CreateServerInput, options: { signal: AbortSignal }): Promise<Server | undefined> {
  const sameName = await cloud.compute.listServers({ name: `^${escapeRegExp(input.serverName)}$` }, options);
  return sameName.find((server) => server.metadata?.[OWNER_KEYS.runId] === input.owner.runId && server.status !== 'DELETED');
}

/**
 * The seed's rule for a volume without a size: as large as its source, rounded up to whole GiB
 * (an image's bytes, or its min_disk if larger; a volume's or snapshot's own size).
 */
async function withVolumeSizes(cloud: OpenStackClient, share: CloudShare, devices: BlockDeviceSpec[], options: { signal: AbortSignal }): Promise<BlockDeviceSpec[]> {
  return Promise.all(
    devices.map(async (device) => {
      if (device.destinationType !== 'volume' || device.volumeSize !== undefined) return device;
      return { ...device, volumeSize: await sourceSizeGiB(cloud, share, device, options) };
    }),
  );
}

async function sourceSizeGiB(cloud: OpenStackClient, share: CloudShare, device: BlockDeviceSpec, options: { signal: AbortSignal }): Promise<number> {
  const missing = (what: string) => ApplicationFailure.nonRetryable(`block device ${device.uuid}: no ${what} with that id to take volume_size from`, 'BlockDeviceSourceNotFound');
  if (device.sourceType === 'image') {
    const image = await share.lookups.get(`image:${device.uuid}`, () => cloud.image.getImage(device.uuid), options.signal);
    if (!image) throw missing('image');
    return Math.max(Math.ceil((image.size ?? 0) / GiB), image.min_disk ?? 0, 1);
  }
  const source = device.sourceType === 'volume' ? await cloud.blockStorage.getVolume(device.uuid, options) : await cloud.blockStorage.getSnapshot(device.uuid, options);
  if (!source) throw missing(device.sourceType);
  return source.size;
}

type NicsArg = 'none' | 'auto' | ({ 'net-name'?: string } & ResolvedNic)[];

/** novaclient's `nics`, with `net-name` looked up in Neutron (the seed: "net-id or net-name"). */
async function resolveNics(cloud: OpenStackClient, share: CloudShare, nics: NicsArg | undefined, options: { signal: AbortSignal }): Promise<'none' | 'auto' | ResolvedNic[] | undefined> {
  if (nics === undefined || typeof nics === 'string') return nics;
  const networkId = async (name: string) => (await share.lookups.get(`network:${name}`, () => cloud.network.findNetworkByName(name), options.signal)).id;
  return Promise.all(nics.map(async ({ 'net-name': netName, ...nic }) => (netName ? { ...nic, 'net-id': await networkId(netName) } : nic)));
}

/** The end of the console log, for a human deciding why a server failed; never fatal. */
export async function consoleTail(cloud: OpenStackClient, serverId: string): Promise<string | undefined> {
  try {
    return await cloud.compute.getConsoleOutput(serverId, { length: CONSOLE_TAIL_LINES, signal: cancellationSignal() });
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
