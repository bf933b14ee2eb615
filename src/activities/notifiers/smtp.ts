import { ApplicationFailure } from '@temporalio/common';
import { createTransport } from 'nodemailer';
import type { SmtpSettings } from '../../config/notify.js';
import { redact } from '../../openstack/errors.js';
import type { MissingNotifier } from '../notify.js';
import { bodyOf, subjectOf } from './message.js';
import type { NotifyLogger } from './log.js';

/** The fields nodemailer sets on its errors that are safe to repeat (never `command`: AUTH carries the password). */
interface SmtpError {
  message?: string;
  code?: string;
  responseCode?: number;
  permanent?: boolean;
}

/** One email per report, to all of its recipients at once, over a fresh connection each time. */
export function smtpNotifier(settings: SmtpSettings, logger: NotifyLogger): MissingNotifier {
  const timeoutMs = settings.timeoutSeconds * 1000;
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: !settings.secure && settings.starttls === 'required',
    ignoreTLS: !settings.secure && settings.starttls === 'off',
    ...(settings.user !== undefined && { auth: { user: settings.user, pass: settings.password } }),
    tls: { rejectUnauthorized: settings.rejectUnauthorized, ...(settings.ca !== undefined && { ca: settings.ca }) },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    logger: false,
  });
  const server = `SMTP server ${settings.host}:${settings.port}`;

  return {
    async notifyMissing(report) {
      if (report.recipients.length === 0) {
        logger.info(`no notify_on_missing addresses for worker ${report.workerName}: no email sent`);
        return;
      }
      let rejected: string[];
      try {
        ({ rejected } = await transport.sendMail({
          from: settings.from,
          to: report.recipients,
          subject: subjectOf(report),
          text: bodyOf(report),
        }));
      } catch (error) {
        throw smtpFailure(error as SmtpError, server, settings);
      }
      const accepted = report.recipients.filter((address) => !rejected.includes(address));
      logger.info(`emailed ${accepted.join(', ')} about worker ${report.workerName} through ${server}`);
      // Retrying would send the accepted recipients a second copy; the log is where this belongs.
      if (rejected.length > 0) logger.warn(`${server} refused ${rejected.join(', ')} for the report on worker ${report.workerName}`);
    },
  };
}

/**
 * A fresh error built from the parts that cannot carry a secret, with the password (and the
 * base64 forms AUTH sends) cut out of even those, and no `cause` that Temporal would serialize.
 * A 5xx reply (bad login, refused sender) is final; connection trouble and 4xx are worth a retry.
 */
function smtpFailure(error: SmtpError, server: string, settings: SmtpSettings): ApplicationFailure {
  const secrets = settings.password
    ? [settings.password, base64(settings.password), base64(`\0${settings.user ?? ''}\0${settings.password}`)]
    : [];
  const step = error.code === 'EAUTH' ? `logging in as ${settings.user ?? '(no user)'}` : 'sending the email';
  const code = error.code ? ` [${error.code}]` : '';
  const message = redact(`${server}: ${step} failed${code}: ${error.message ?? String(error)}`, secrets);
  const final = error.permanent === true || (error.code === 'EAUTH' && error.responseCode === undefined);
  return final ? ApplicationFailure.nonRetryable(message, 'SmtpRejected') : ApplicationFailure.retryable(message, 'SmtpUnavailable');
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
