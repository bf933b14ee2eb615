import type { MissingReport } from '../notify.js';

/** One line saying what happened, for an email subject or a log line. */
export function summaryOf(report: MissingReport): string {
  const worker = oneLine(report.workerName);
  if (report.kind === 'undeletable') return `${worker}: server ${report.serverId} could not be deleted for ${duration(report.stuckSeconds)}; still trying`;
  if (report.kind === 'failed') {
    const attempts = report.reasons.length;
    return `${worker} failed to start: ${attempts === 1 ? 'its launch attempt' : `all ${attempts} launch attempts`} failed`;
  }
  return `${worker} is missing: server ${oneLine(report.serverName)} never attached`;
}

export function subjectOf(report: MissingReport): string {
  return `[latent-worker] ${summaryOf(report)}`;
}

/** The plain-text body: what happened, the details a person needs to look, and the console tail. */
export function bodyOf(report: MissingReport): string {
  const opening =
    report.kind === 'undeletable'
      ? [
          `The server ${report.serverId} of worker ${report.workerName} has not been deleted for ${duration(report.stuckSeconds)}: ` +
            'every try failed. The lifecycle keeps trying, with capped backoff, until Nova no longer has the server; ' +
            'it may need a hand (an unlocked server, a working Keystone, a configured cloud).',
          '',
          `  Last error: ${oneLine(report.lastError)}`,
        ]
      : report.kind === 'missing'
      ? [
          `The server of worker ${report.workerName} booted, but no CI worker attached to it within ` +
            `${duration(report.missingTimeoutSeconds)}. The lifecycle deletes the server now.`,
        ]
      : [
          `Every launch attempt of worker ${report.workerName} failed; the lifecycle deletes every server it created.`,
          '',
          ...report.reasons.map((reason, index) => `  Attempt ${index + 1}: ${oneLine(reason)}`),
        ];
  const details = [
    ['Worker', report.workerName],
    ['Workflow', report.workflowId],
    ['Cloud', report.cloud],
    ['Server', report.serverId ? `${report.serverName || '(unnamed)'} (${report.serverId})` : 'none left'],
    ['Status', report.status || 'unknown'],
    ['Fault', report.fault ? oneLine(report.fault) : 'none reported'],
    ['Time', report.at],
  ].map(([label, value]) => `${`${label}:`.padEnd(10)}${value}`);
  const tail = report.consoleTail ? printable(report.consoleTail).trimEnd() : '';
  const consoleLines = tail ? ['Console log (last lines):', '', tail] : ['Console log: not available.'];
  return [...opening, '', ...details, '', ...consoleLines, ''].join('\n');
}

/**
 * A console log is raw terminal output: colour codes, cursor moves and carriage returns that
 * would turn an email or a log line into noise. Keeps text, newlines and tabs.
 */
function printable(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- stripping terminal control sequences is the point
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g, '')
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex -- as above
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

function oneLine(text: string): string {
  return printable(text).replace(/\s+/g, ' ').trim();
}

function duration(seconds: number): string {
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min (${seconds} s)`;
  return `${seconds} s`;
}
