import type { LifecycleStatus } from '../workflows/types.js';

/** One human line for a lifecycle's status, as the CLI prints it. */
export function describeStatus(status: LifecycleStatus): string {
  const parts = [`${status.workerName}: ${status.phase}`];
  if (status.serverId) parts.push(`server ${status.serverName ?? ''} ${status.serverId}`.replace('  ', ' '));
  if (status.outcome) parts.push(`outcome ${status.outcome}`);
  if (status.error) parts.push(`error: ${status.error}`);
  return parts.join(', ');
}
