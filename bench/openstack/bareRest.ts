import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Semaphore } from '../../src/openstack/semaphore.js';
import { buildServerRequest } from '../../src/activities/serverRequest.js';
import type { ResolvedWorker } from '../../src/config/load.js';
import type { ObservedRequest, OpenStackClient } from '../../src/openstack/index.js';

/** One server as a client saw it; epoch milliseconds of this machine. */
export interface ServerRun {
  name: string;
  id?: string;
  /** The client decided to ask for the server (before any wait of its own). */
  requestedAt: number;
  postedAt?: number;
  /** A status read showed ACTIVE. */
  activeNoticedAt?: number;
  error?: string;
}

export interface BareRestOptions {
  client: OpenStackClient;
  worker: ResolvedWorker;
  imageId: string;
  flavorId: string;
  names: readonly string[];
  /** Every POST at once, or each POST sent once the one before has been answered. */
  posts: 'at-once' | 'one-at-a-time';
  /** At most this many servers between POST and ACTIVE noticed (none when absent). */
  bootingAtOnce?: number;
  pollIntervalMs: number;
  deadline: number;
}

/**
 * The two ways a plain REST client boots N servers, for the real-cloud benchmark's baselines: all
 * POSTs at once, or one POST at a time; each server then read on its own every `pollIntervalMs`
 * until ACTIVE. Every server is deleted and waited out before it returns, whatever happened.
 */
export async function bootWithBareRest(o: BareRestOptions): Promise<ServerRun[]> {
  const runs = o.names.map((name) => ({ name, requestedAt: Date.now() }) as ServerRun);
  const signal = AbortSignal.timeout(Math.max(1, o.deadline - Date.now()));
  // Every server's requests listen to the one deadline: more than Node's default 10 listeners is no leak here.
  setMaxListeners(o.names.length * 2 + 10, signal);
  const post = async (run: ServerRun) => {
    // The body a lifecycle sends for the same definition, so that Nova does the same work.
    const request = buildServerRequest({ name: run.name, imageId: o.imageId, flavorId: o.flavorId, metadata: { 'latent-worker-bench': 'bare-rest' }, novaArgs: o.worker.specFor().novaArgs ?? {} });
    const created = await o.client.compute.createServer(request.server, { signal });
    run.id = created.id;
    run.postedAt = Date.now();
  };
  const waitActive = async (run: ServerRun) => {
    for (;;) {
      const server = await o.client.compute.getServer(run.id!, { signal });
      if (server?.status === 'ACTIVE') {
        run.activeNoticedAt = Date.now();
        return;
      }
      if (!server || server.status === 'ERROR') throw new Error(`server ${run.id} is ${server?.status ?? 'gone'}: ${server?.fault?.message ?? ''}`);
      await delay(o.pollIntervalMs, undefined, { signal });
    }
  };
  const boots: Promise<void>[] = [];
  const slots = o.bootingAtOnce ? new Semaphore(o.bootingAtOnce) : undefined;
  try {
    for (const run of runs) {
      const boot = (async () => {
        const release = await slots?.acquire(o.deadline - Date.now(), () => new Error('no boot slot before the deadline'), signal);
        try {
          await post(run);
          await waitActive(run);
        } finally {
          release?.();
        }
      })().catch((error: unknown) => {
        run.error = error instanceof Error ? error.message : String(error);
      });
      boots.push(boot);
      // The next POST leaves once this one is answered (its id known), not once the server is ACTIVE.
      if (o.posts === 'one-at-a-time') while (run.id === undefined && run.error === undefined) await delay(5);
    }
    await Promise.all(boots);
  } finally {
    await deleteAll(o.client, runs.flatMap((r) => (r.id ? [r.id] : [])), o.pollIntervalMs);
  }
  return runs;
}

/** Deletes the servers and waits until Nova no longer lists them (bounded: 5 minutes). */
export async function deleteAll(client: OpenStackClient, ids: readonly string[], pollIntervalMs: number): Promise<void> {
  const signal = AbortSignal.timeout(300_000);
  // Every delete in flight listens on it: not a leak, so no warning past ten.
  setMaxListeners(ids.length * 2 + 10, signal);
  await Promise.all(
    ids.map(async (id) => {
      await client.compute.deleteServer(id, { signal });
      for (;;) {
        const server = await client.compute.getServer(id, { signal });
        if (!server || server.status === 'DELETED') return;
        await delay(Math.max(pollIntervalMs, 500), undefined, { signal });
      }
    }),
  );
}

/** Counts a client's requests by service, from its observer. */
export class RequestCounter {
  readonly byService: Record<string, number> = {};
  readonly observe = (request: ObservedRequest): void => {
    this.byService[request.service] = (this.byService[request.service] ?? 0) + 1;
  };

  total(): number {
    return Object.values(this.byService).reduce((sum, n) => sum + n, 0);
  }

  reset(): void {
    for (const key of Object.keys(this.byService)) delete this.byService[key];
  }
}
