import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities.js';

const { noop } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/** The least a workflow with `activities` activities can cost: the yardstick the lifecycle is measured against. */
export async function calibrationWorkflow(activities: number): Promise<number> {
  for (let i = 0; i < activities; i++) await noop(i);
  return activities;
}
