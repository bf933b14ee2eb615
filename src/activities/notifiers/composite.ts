import { ApplicationFailure } from '@temporalio/common';
import type { MissingNotifier, MissingReport } from '../notify.js';
import type { NotifyLogger } from './log.js';

export interface Channel {
  name: string;
  notifier: MissingNotifier;
}

// Reports whose channels delivered, kept so that a retry of the activity (same input, usually
// the same process) does not send a second email because the webhook failed. Best effort: a
// retry on another worker process resends.
const REMEMBERED_REPORTS = 256;

/**
 * Sends each report on every channel, all at once; fails after all were tried if any failed,
 * so the activity's bounded retry policy tries the failed ones again. The failure is
 * non-retryable only when every failed channel said a retry cannot help.
 */
export function compositeNotifier(channels: readonly Channel[], logger: NotifyLogger): MissingNotifier {
  const delivered = new Map<string, Set<string>>();

  return {
    async notifyMissing(report) {
      const key = reportKey(report);
      const done = delivered.get(key) ?? new Set<string>();
      const pending = channels.filter((channel) => !done.has(channel.name));
      const results = await Promise.allSettled(pending.map((channel) => channel.notifier.notifyMissing(report)));

      const failures: { channel: string; error: unknown }[] = [];
      results.forEach((result, index) => {
        const channel = pending[index]!.name;
        if (result.status === 'fulfilled') done.add(channel);
        else failures.push({ channel, error: result.reason });
      });
      remember(delivered, key, done);
      if (failures.length === 0) return;

      for (const { channel, error } of failures) {
        logger.warn(`notifying ${channel} about worker ${report.workerName} failed: ${messageOf(error)}`);
      }
      throw ApplicationFailure.create({
        message: failures.map(({ channel, error }) => `${channel}: ${messageOf(error)}`).join('; '),
        type: 'NotifyFailed',
        nonRetryable: failures.every(({ error }) => error instanceof ApplicationFailure && error.nonRetryable),
      });
    },
  };
}

function reportKey(report: MissingReport): string {
  return `${report.workflowId}\n${report.kind}\n${report.at}`;
}

function remember(delivered: Map<string, Set<string>>, key: string, done: Set<string>): void {
  delivered.delete(key);
  delivered.set(key, done);
  // Maps iterate in insertion order: the first key is the least recently used.
  if (delivered.size > REMEMBERED_REPORTS) delivered.delete(delivered.keys().next().value!);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
