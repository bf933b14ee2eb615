import type { NotifySettings } from '../../config/notify.js';
import type { MissingNotifier } from '../notify.js';
import { compositeNotifier, type Channel } from './composite.js';
import { logNotifier, type NotifyLogger } from './log.js';
import { smtpNotifier } from './smtp.js';
import { webhookNotifier } from './webhook.js';

export { compositeNotifier, type Channel } from './composite.js';
export { logNotifier, type NotifyLogger } from './log.js';
export { smtpNotifier } from './smtp.js';
export { webhookNotifier } from './webhook.js';

/** The log line always, plus email and webhook when the `notify:` settings configure them. */
export function notifierFromSettings(settings: NotifySettings, logger: NotifyLogger): MissingNotifier {
  const channels: Channel[] = [{ name: 'log', notifier: logNotifier(logger) }];
  if (settings.smtp) channels.push({ name: 'smtp', notifier: smtpNotifier(settings.smtp, logger) });
  if (settings.webhook) channels.push({ name: 'webhook', notifier: webhookNotifier(settings.webhook, logger) });
  return compositeNotifier(channels, logger);
}
