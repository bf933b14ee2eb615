import { log } from '@temporalio/activity';
import { logNotifier as createLogNotifier } from './notifiers/log.js';

interface ReportFields {
  workerName: string;
  workflowId: string;
  /** The cloud's non-secret label (clouds.yaml name or auth URL host). */
  cloud: string;
  /** Nova's fault message, when the server has one. */
  fault?: string;
  /** The last lines of the server's console log, as Nova returned them. */
  consoleTail?: string;
  /** The worker's `notify_on_missing` addresses. */
  recipients: string[];
  missingTimeoutSeconds: number;
  /**
   * When the lifecycle gave up (ISO 8601). With workflowId and kind it identifies the report, so it
   * must be the same on every retry of the activity (e.g. its first attempt's scheduled time).
   */
  at: string;
}

interface ServerFields {
  serverId: string;
  serverName: string;
  /** Nova status when last seen, e.g. ACTIVE or ERROR. */
  status: string;
}

/**
 * What a lifecycle tells people when it gives up: the server booted but no CI worker attached
 * (`missing`), or every launch attempt failed (`failed`, with each attempt's reason; the server
 * fields, fault and console tail then describe the last attempt's server, if it got one), or a
 * server could not be deleted for a long time and the delete goes on (`undeletable`).
 */
export type MissingReport =
  | (ReportFields & ServerFields & { kind: 'missing' })
  | (ReportFields & Partial<ServerFields> & { kind: 'failed'; reasons: string[] })
  | (ReportFields & ServerFields & { kind: 'undeletable'; stuckSeconds: number; lastError: string });

/** Tells people that a worker's CI worker never attached, or that its launches all failed. */
export interface MissingNotifier {
  notifyMissing(report: MissingReport): Promise<void>;
}

/** The notifier when nothing else is configured: one clear log line. */
export const logNotifier: MissingNotifier = createLogNotifier(log);
