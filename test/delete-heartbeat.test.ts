import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CloudRegistry } from '../src/activities/cloudRegistry.js';
import { createActivities } from '../src/activities/index.js';
import { parseConfig } from '../src/config/load.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';

// Every heartbeat that reaches Temporal is a write to the lifecycle's state on the server (the
// dev server's one history shard serializes them: docs/benchmark.md, "Where the lag waits"). A
// delete's wait for its server to go usually ends within a second or two; its first heartbeat
// then buys nothing, since the heartbeat timeout counts from the attempt's start.

const IMAGE_ID = '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1';

const simulators: Simulator[] = [];
const registries: CloudRegistry[] = [];

afterEach(async () => {
  await Promise.all(registries.splice(0).map((registry) => registry.close()));
});

afterAll(async () => {
  await Promise.all(simulators.map((sim) => sim.close()));
});

async function rig(deleteDelayMs: number) {
  const sim = await startSimulator({ bootDelayMs: 50, deleteDelayMs });
  simulators.push(sim);
  const loaded = parseConfig(
    {
      deployment: 'delete-heartbeat-test',
      workers: [{ name: 'w0', flavor: 1, image: IMAGE_ID, os_username: 'demo', os_password: 'demo', os_tenant_name: 'demo', os_auth_url: sim.authUrlV3, client_version: '2' }],
    },
    'delete heartbeat test',
    {},
  );
  const clouds = new CloudRegistry(loaded, { pollIntervalMs: 100 });
  registries.push(clouds);
  const activities = createActivities({ clouds, deployment: loaded.deployment });
  const server = await run(new MockActivityEnvironment({ startToCloseTimeoutMs: 5 * 60_000 }), activities.createServer, {
    workerName: 'w0',
    serverName: `heartbeat-${deleteDelayMs}`,
    imageId: IMAGE_ID,
    flavor: '1',
    meta: {},
    clientVersion: '2',
    owner: { workflowId: `heartbeat-${deleteDelayMs}`, runId: '00000000-0000-4000-8000-000000000001', attempt: 1 },
  });
  return { sim, activities, serverId: server.id };
}

/** Runs an activity as a worker would, typed (the mock's own `run` answers `unknown`). */
function run<P extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: P) => Promise<R>, ...args: P): Promise<R> {
  return env.run(fn, ...args);
}

/** Deletes the server as a worker would and counts the heartbeats the activity gave. */
async function deleteCountingHeartbeats(activities: ReturnType<typeof createActivities>, serverId: string): Promise<number> {
  const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 5 * 60_000 });
  let beats = 0;
  env.on('heartbeat', () => (beats += 1));
  await run(env, activities.deleteServer, { workerName: 'w0', serverId });
  return beats;
}

describe('a delete waiting for its server to go', () => {
  it('gives no heartbeat when the server is gone within the first beat', async () => {
    const { sim, activities, serverId } = await rig(300);
    expect(await deleteCountingHeartbeats(activities, serverId)).toBe(0);
    expect(sim.servers().map((server) => server.id)).not.toContain(serverId);
  });

  it('heartbeats while the server takes longer to go, so a crash is still noticed', async () => {
    const { sim, activities, serverId } = await rig(6_500);
    expect(await deleteCountingHeartbeats(activities, serverId)).toBeGreaterThanOrEqual(1);
    expect(sim.servers().map((server) => server.id)).not.toContain(serverId);
  }, 30_000);
});
