import { sleep } from '@temporalio/workflow';

/** Sleeps for an hour of workflow time: proves that the time-skipping server skips it. */
export async function sleepForAnHour(): Promise<string> {
  await sleep('1 hour');
  return 'awake';
}
