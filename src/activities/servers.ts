import { cancellationSignal, heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { OpenStackClient, Server } from '../openstack/index.js';
import type { BlockDeviceSpec } from '../workflows/types.js';
import type { CloudRegistry } from './cloudRegistry.js';
import { cloudCall } from './failures.js';
import { buildServerRequest, type ResolvedNic } from './serverRequest.js';

/** Metadata keys that mark a server as ours; the reaper and adoption read them. */
export const OWNER_KEYS = {
  deployment: 'latent-worker:deployment',
  workflowId: 'latent-worker:workflow-id',
  runId: 'latent-worker:run-id',
  attempt: 'latent-worker:attempt',
} as const;

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
  /** How often a booting or deleting server is looked at. */
  pollIntervalMs: number;
  /**
   * The installation that owns the servers, from the worker process's config: kept out of the
   * workflow input so that running lifecycles and their histories stay as they are.
   */
  deployment: string;
}

const GiB = 1024 ** 3;
const CONSOLE_TAIL_LINES = 30;

export function serverActivities(clouds: CloudRegistry, { pollIntervalMs, deployment }: ServerActivityOptions) {
  async function createServer(input: CreateServerInput): Promise<CreatedServer> {
    const cloud = clouds.forWorker(input.workerName);
    const options = { signal: cancellationSignal() };
    const existing = await cloudCall(() => findOwnedServer(cloud, input, options));
    if (existing) return { id: existing.id, name: existing.name, adopted: true };

    const flavor = await cloudCall(() => cloud.compute.getFlavor(input.flavor, options));
    const blockDevices = input.blockDevices && (await cloudCall(() => withVolumeSizes(cloud, input.blockDevices!, options)));
    const novaArgs = input.novaArgs ?? {};
    const nics = await cloudCall(() => resolveNics(cloud, novaArgs.nics as NicsArg | undefined, options));
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
    const created = await cloudCall(() => cloud.compute.createServer(request.server, { ...options, schedulerHints: request.schedulerHints }));
    return { id: created.id, name: input.serverName, adopted: false };
  }

  async function waitForActive({ workerName, serverId, deadline }: WaitForActiveInput): Promise<void> {
    const cloud = clouds.forWorker(workerName);
    const giveUpAt = Date.parse(deadline);
    for (;;) {
      const server = await cloudCall(() => cloud.compute.getServer(serverId, { signal: cancellationSignal() }));
      heartbeat(server?.status);
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
      if (Date.now() >= giveUpAt) {
        throw ApplicationFailure.create({
          message: `server ${serverId} was still ${server.status} at its boot deadline ${deadline}`,
          type: 'BootTimeout',
          nonRetryable: true,
          details: [{ status: server.status, consoleTail: await consoleTail(cloud, serverId) }],
        });
      }
      await sleep(Math.min(pollIntervalMs, Math.max(0, giveUpAt - Date.now())));
    }
  }

  /** Deletes and then waits until Nova no longer shows the server; a 404 counts as done. */
  async function deleteServer({ workerName, serverId }: ServerRef): Promise<void> {
    const nova = clouds.forWorker(workerName).compute;
    await cloudCall(() => nova.deleteServer(serverId, { signal: cancellationSignal() }));
    for (;;) {
      const server = await cloudCall(() => nova.getServer(serverId, { signal: cancellationSignal() }));
      heartbeat(server?.status ?? 'gone');
      if (!server || server.status === 'DELETED') return;
      await sleep(pollIntervalMs);
    }
  }

  return { createServer, waitForActive, deleteServer };
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
async function withVolumeSizes(cloud: OpenStackClient, devices: BlockDeviceSpec[], options: { signal: AbortSignal }): Promise<BlockDeviceSpec[]> {
  return Promise.all(
    devices.map(async (device) => {
      if (device.destinationType !== 'volume' || device.volumeSize !== undefined) return device;
      return { ...device, volumeSize: await sourceSizeGiB(cloud, device, options) };
    }),
  );
}

async function sourceSizeGiB(cloud: OpenStackClient, device: BlockDeviceSpec, options: { signal: AbortSignal }): Promise<number> {
  const missing = (what: string) => ApplicationFailure.nonRetryable(`block device ${device.uuid}: no ${what} with that id to take volume_size from`, 'BlockDeviceSourceNotFound');
  if (device.sourceType === 'image') {
    const image = await cloud.image.getImage(device.uuid, options);
    if (!image) throw missing('image');
    return Math.max(Math.ceil((image.size ?? 0) / GiB), image.min_disk ?? 0, 1);
  }
  const source = device.sourceType === 'volume' ? await cloud.blockStorage.getVolume(device.uuid, options) : await cloud.blockStorage.getSnapshot(device.uuid, options);
  if (!source) throw missing(device.sourceType);
  return source.size;
}

type NicsArg = 'none' | 'auto' | ({ 'net-name'?: string } & ResolvedNic)[];

/** novaclient's `nics`, with `net-name` looked up in Neutron (the seed: "net-id or net-name"). */
async function resolveNics(cloud: OpenStackClient, nics: NicsArg | undefined, options: { signal: AbortSignal }): Promise<'none' | 'auto' | ResolvedNic[] | undefined> {
  if (nics === undefined || typeof nics === 'string') return nics;
  return Promise.all(
    nics.map(async ({ 'net-name': netName, ...nic }) => (netName ? { ...nic, 'net-id': (await cloud.network.findNetworkByName(netName, options)).id } : nic)),
  );
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
