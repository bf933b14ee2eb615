import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import type { orphanReaper, ReaperInput, ReaperReport } from '../workflows/reaper.js';

export const REAPER_WORKFLOW_TYPE = 'orphanReaper';

/** One schedule per deployment, so installations sharing a Temporal namespace each reap their own servers. */
export function reaperScheduleId(deployment: string): string {
  return `latent-worker-reaper:${deployment}`;
}

export interface ReaperScheduleOptions {
  deployment: string;
  /** The worker's task queue: the reaper's activities need that worker's clouds and config. */
  taskQueue: string;
  intervalSeconds: number;
  graceSeconds: number;
}

export type ScheduleChange = 'created' | 'updated' | 'unchanged';

/**
 * Makes sure the deployment's reaper schedule exists and runs as configured. Every worker process
 * calls this at start, so it must be idempotent and tolerate a racing twin.
 */
export async function ensureReaperSchedule(client: Client, options: ReaperScheduleOptions): Promise<ScheduleChange> {
  const scheduleId = reaperScheduleId(options.deployment);
  const wanted = reaperSchedule(options);
  try {
    await client.schedule.create({ scheduleId, ...wanted });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(scheduleId);
  if (isAsWanted(await handle.describe(), options)) return 'unchanged';
  // Keeps the schedule's state, so an operator's pause survives a worker restart.
  await handle.update((previous) => ({ ...previous, ...wanted }));
  return 'updated';
}

function reaperSchedule({ deployment, taskQueue, intervalSeconds, graceSeconds }: ReaperScheduleOptions) {
  const input: ReaperInput = { graceSeconds, dryRun: false };
  return {
    spec: { intervals: [{ every: intervalSeconds * 1000 }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: REAPER_WORKFLOW_TYPE,
      workflowId: reaperScheduleId(deployment),
      taskQueue,
      args: [input],
      staticSummary: `Orphan reaper of deployment ${deployment}: servers of closed lifecycles older than ${graceSeconds} s`,
    },
    // A slow run (a cloud that takes long to delete) must not pile up runs behind it.
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  };
}

function isAsWanted(schedule: ScheduleDescription, options: ReaperScheduleOptions): boolean {
  const intervals = schedule.spec.intervals ?? [];
  const [input] = (schedule.action.args ?? []) as (ReaperInput | undefined)[];
  return (
    intervals.length === 1 &&
    intervals[0]!.every === options.intervalSeconds * 1000 &&
    !schedule.spec.calendars?.length &&
    schedule.action.workflowType === REAPER_WORKFLOW_TYPE &&
    schedule.action.taskQueue === options.taskQueue &&
    input?.graceSeconds === options.graceSeconds &&
    input.dryRun === false &&
    schedule.policies.overlap === ScheduleOverlapPolicy.SKIP
  );
}

export interface ReapOnceOptions {
  deployment: string;
  taskQueue: string;
  graceSeconds: number;
  dryRun: boolean;
}

/** One reaper run now, beside the schedule's, waiting for its report. */
export async function reapOnce(client: Client, { deployment, taskQueue, graceSeconds, dryRun }: ReapOnceOptions): Promise<ReaperReport> {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  return client.workflow.execute<typeof orphanReaper>(REAPER_WORKFLOW_TYPE, {
    workflowId: `${reaperScheduleId(deployment)}:manual-${stamp}`,
    taskQueue,
    args: [{ graceSeconds, dryRun }],
    staticSummary: `Orphan reaper of deployment ${deployment}, run by hand${dryRun ? ' (dry run)' : ''}`,
  });
}
