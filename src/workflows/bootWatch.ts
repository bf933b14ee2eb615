import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { LifecycleState } from './state.js';
import { now, workerRefOf } from './state.js';
import { SERVER_STATUS_SIGNAL } from './statusWatchNames.js';

type Activities = ReturnType<typeof createActivities>;

/** What the cloud's status watcher says of a server: it finished booting, ACTIVE or ERROR. */
export interface ServerStatusChange {
  serverId: string;
  status: string;
  /**
   * When the watcher's list showed it (ISO; absent from watchers before this field). The lifecycle
   * records this rather than the time of the workflow task that hears the signal, which can come
   * late (its process killed) or, once, early: a process that rebuilds the lifecycle for a query
   * applies a waiting signal with the clock of the last workflow task, and keeps that state.
   */
  seenAt?: string;
}

/** Sent by the fleet's status watcher of the cloud (src/workflows/statusWatcher.ts). */
export const serverStatusSignal = defineSignal<[ServerStatusChange]>(SERVER_STATUS_SIGNAL);

/**
 * How long a boot waits for the watcher before it looks at its server itself. Slow on purpose:
 * the watcher is the way boots are seen; this only bounds what a watcher that is down (its
 * process killed, until the heartbeat timeout hands it on) can cost a boot.
 */
export const OWN_LOOK_EVERY_MS = 120_000;

/** One GET of the server, judged: bounded tries, since the next look (or the deadline's) comes anyway. */
const looks = proxyActivities<Pick<Activities, 'lookAtBoot'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/**
 * Waits for the server to be ACTIVE, as the cloud's status watcher tells it, and looks at the
 * server itself every OWN_LOOK_EVERY_MS and at the boot deadline, so that a watcher that is down
 * never holds a boot past boot_timeout. ERROR, a vanished server or the deadline end the wait
 * with the typed failure the launch acts on (thrown by the look). Returns when the server was
 * seen ACTIVE (ISO).
 */
export async function waitForBootTold(state: LifecycleState, serverId: string, serverName: string): Promise<string> {
  const { spec } = state;
  const deadline = Date.now() + spec.bootTimeoutSeconds * 1000;
  let told: ServerStatusChange | undefined;
  // Signals that came before this handler (a quick boot) are buffered by the SDK and delivered now.
  // A status told twice (a watcher that moved to another process lists it again) keeps its first telling.
  setHandler(serverStatusSignal, (change) => {
    if (change.serverId === serverId && change.status !== told?.status) told = change;
  });
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining > 0) {
      const wait = Math.min(OWN_LOOK_EVERY_MS, remaining);
      const heard = await condition(() => told !== undefined, wait, { summary: `wait for ${serverName} to be ACTIVE (boot_timeout ${spec.bootTimeoutSeconds} s)` });
      if (heard && told?.status === 'ACTIVE') return told.seenAt ?? now();
    }
    const seen = await looks.lookAtBoot.executeWithOptions({ summary: remaining > 0 ? `look at ${serverName}` : `look at ${serverName} at its boot deadline` }, [
      { ...workerRefOf(spec), serverId, deadline: new Date(deadline).toISOString(), final: remaining <= 0 },
    ]);
    if (seen === 'ACTIVE') return now();
    told = undefined;
  }
}
