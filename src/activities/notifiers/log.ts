import type { Logger } from '@temporalio/common';
import type { MissingNotifier } from '../notify.js';
import { summaryOf } from './message.js';

/** What notifiers log through: the activity's `log` in the worker, anything alike in tests. */
export type NotifyLogger = Pick<Logger, 'info' | 'warn'>;

/** Always on: one warning per report, so the event is in the worker's log whatever else is configured. */
export function logNotifier(logger: NotifyLogger): MissingNotifier {
  return {
    async notifyMissing(report) {
      const recipients = report.recipients.length > 0 ? `; notify_on_missing: ${report.recipients.join(', ')}` : '';
      const server = report.serverId ? ` (server ${report.serverId}, status ${report.status || 'unknown'})` : '';
      logger.warn(`${summaryOf(report)}${server}${recipients}`, { ...report });
    },
  };
}
