import { ApplicationFailure } from '@temporalio/common';
import { request } from 'undici';
import type { WebhookSettings } from '../../config/notify.js';
import { redact } from '../../openstack/errors.js';
import { DEFAULT_USER_AGENT } from '../../openstack/http.js';
import type { MissingNotifier } from '../notify.js';
import type { NotifyLogger } from './log.js';

/** Statuses that say "later" rather than "never": the activity's retry policy handles them. */
const RETRYABLE_STATUSES = new Set([408, 425, 429]);

/** POSTs each report as JSON. Errors and logs name the URL's origin only: its path may be a token. */
export function webhookNotifier(settings: WebhookSettings, logger: NotifyLogger): MissingNotifier {
  const timeoutMs = settings.timeoutSeconds * 1000;
  const url = new URL(settings.url);
  const target = `webhook ${url.origin}`;
  const secrets = [settings.url, `${url.pathname}${url.search}`, ...Object.values(settings.headers)].filter((s) => s.length > 1);
  const headers = { 'content-type': 'application/json', 'user-agent': DEFAULT_USER_AGENT, ...settings.headers };

  return {
    async notifyMissing(report) {
      // The undici timeouts bound each phase; the signal bounds the whole exchange.
      const deadline = AbortSignal.timeout(timeoutMs);
      let status: number;
      let answer: string;
      try {
        const response = await request(settings.url, {
          method: 'POST',
          headers,
          body: JSON.stringify(report),
          signal: deadline,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        status = response.statusCode;
        // Read to the end either way: an unread body pins the connection.
        answer = await response.body.text();
      } catch (error) {
        const why = deadline.aborted ? `no answer within ${settings.timeoutSeconds} s` : describe(error);
        throw ApplicationFailure.retryable(redact(`${target}: ${why}`, secrets), 'WebhookUnavailable');
      }
      if (status >= 200 && status < 300) {
        logger.info(`posted the report on worker ${report.workerName} to ${target} (${status})`);
        return;
      }
      const excerpt = answer.trim() ? `: ${redact(answer.replace(/\s+/g, ' ').trim().slice(0, 200), secrets)}` : '';
      const message = `${target} answered ${status}${excerpt}`;
      if (status >= 500 || RETRYABLE_STATUSES.has(status)) throw ApplicationFailure.retryable(message, 'WebhookUnavailable');
      throw ApplicationFailure.nonRetryable(message, 'WebhookRejected');
    },
  };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return code && !error.message.includes(code) ? `${error.message} [${code}]` : error.message;
}
