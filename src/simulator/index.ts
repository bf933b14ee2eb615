import { glanceService } from './glance.js';
import { keystoneService } from './keystone.js';
import { novaService } from './nova.js';
import { type SimFlavor, type SimImage, type SimUser } from './seed.js';
import { listen, type RecordedRequest } from './server.js';
import { defaultStateOptions, SimState, statusOf, type SimServer } from './state.js';

export { defaultFlavors, defaultImages, defaultNetworks, defaultUsers, projectIds } from './seed.js';
export type { GlanceStatus, GlanceVisibility, SimFlavor, SimImage, SimNetwork, SimUser } from './seed.js';
export type { RecordedRequest } from './server.js';
export type { Address, BlockDeviceMapping, Fault, NetworkRequest, ServerStatus, SimServer, VmState } from './state.js';

export interface SimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** BUILD to ACTIVE (or to ERROR). Default 500. */
  bootDelayMs?: number;
  /** DELETE to gone; meanwhile the server shows task_state `deleting`. Default 200. */
  deleteDelayMs?: number;
  /** Default 3600. */
  tokenTtlSeconds?: number;
  images?: SimImage[];
  flavors?: SimFlavor[];
  users?: SimUser[];
}

export interface Simulator {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + '/identity/v3' */
  authUrlV3: string;
  /** url + '/identity/v2.0' */
  authUrlV2: string;
  /** Every request received so far, oldest first. */
  requests(): RecordedRequest[];
  clearRequests(): void;
  /** Servers not yet gone (deleting ones included), of all projects; copies. */
  servers(): SimServer[];
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  let recorded: RecordedRequest[] = [];
  const front = await listen(options.host ?? '127.0.0.1', options.port ?? 0, (r) => recorded.push(r));
  const state = new SimState(front.url, {
    bootDelayMs: options.bootDelayMs ?? defaultStateOptions.bootDelayMs,
    deleteDelayMs: options.deleteDelayMs ?? defaultStateOptions.deleteDelayMs,
    tokenTtlSeconds: options.tokenTtlSeconds ?? defaultStateOptions.tokenTtlSeconds,
    images: options.images ?? defaultStateOptions.images,
    flavors: options.flavors ?? defaultStateOptions.flavors,
    users: options.users ?? defaultStateOptions.users,
  });
  front.mount([keystoneService(state), novaService(state), glanceService(state)]);

  return {
    url: front.url,
    authUrlV3: `${front.url}/identity/v3`,
    authUrlV2: `${front.url}/identity/v2.0`,
    requests: () => structuredClone(recorded),
    clearRequests: () => {
      recorded = [];
    },
    servers: () => state.liveServers().map((s) => structuredClone({ ...s, status: statusOf(s) })),
    close: async () => {
      state.close();
      await front.close();
    },
  };
}
