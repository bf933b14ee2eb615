import { setTimeout as delay } from 'node:timers/promises';
import { OWNER_KEYS } from '../src/activities/ownerKeys.js';
import { buildServerRequest } from '../src/activities/serverRequest.js';
import type { ResolvedWorker } from '../src/config/load.js';
import { OpenStackClient } from '../src/openstack/index.js';

/**
 * One lifecycle's REST sequence without Temporal, as a plain script would do it with the project's
 * own OpenStack client, call for call what the activities send: log in and check the compute
 * version, read the image, look for an earlier server of the same name, read the flavor, create,
 * poll until ACTIVE (the CI worker attaches at once, the master releases at once), delete, and
 * poll until Nova no longer has it. The poll interval is the worker's.
 */
export async function baselineLifecycle(client: OpenStackClient, worker: ResolvedWorker, serverName: string, pollIntervalMs: number, timeoutMs: number): Promise<number> {
  const signal = AbortSignal.timeout(timeoutMs);
  const options = { signal };
  const spec = worker.specFor();
  const startedAt = performance.now();
  await client.authenticate(options);
  await client.compute.negotiateMicroversion(options);
  const image = typeof spec.image === 'string' ? await client.image.getImage(spec.image, options) : undefined;
  if (!image) throw new Error(`baseline: the image ${JSON.stringify(spec.image)} is not a UUID the cloud has`);
  await client.compute.listServers({ name: `^${serverName}$` }, options);
  const flavor = await client.compute.getFlavor(spec.flavor, options);
  const request = buildServerRequest({
    name: serverName,
    imageId: image.id,
    flavorId: flavor.id,
    metadata: { ...spec.meta, [OWNER_KEYS.deployment]: 'baseline', [OWNER_KEYS.workflowId]: serverName, [OWNER_KEYS.runId]: serverName, [OWNER_KEYS.attempt]: '1' },
    novaArgs: spec.novaArgs ?? {},
  });
  const { id } = await client.compute.createServer(request.server, options);
  for (;;) {
    const server = await client.compute.getServer(id, options);
    if (server?.status === 'ACTIVE') break;
    if (!server || server.status === 'ERROR') throw new Error(`baseline: server ${id} is ${server?.status ?? 'gone'} while booting`);
    await delay(pollIntervalMs, undefined, { signal });
  }
  await client.compute.deleteServer(id, options);
  for (;;) {
    const server = await client.compute.getServer(id, options);
    if (!server || server.status === 'DELETED') break;
    await delay(pollIntervalMs, undefined, { signal });
  }
  return performance.now() - startedAt;
}

/**
 * Like the worker process, the script keeps one client (and so one token and one compute version
 * look-up) across lifecycles; its first run pays for them and is left out of the median.
 */
export function baselineClient(worker: ResolvedWorker): OpenStackClient {
  return new OpenStackClient(worker.credentials, { clientVersion: worker.definition.client_version });
}
