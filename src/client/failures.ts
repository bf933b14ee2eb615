import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { ENCRYPTED_ENCODING, KEYS_VARIABLE } from '../codec/index.js';

/**
 * One line for a person: the cloud's reason rather than Temporal's wrappers ("Workflow execution
 * failed", "Activity task failed"), and what to do about the failures people can fix themselves.
 */
export function describeError(error: unknown): string {
  if (error instanceof WorkflowFailedError) return `the lifecycle failed: ${describeCause(error.cause ?? error)}`;
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) {
    return `${message}: the worker encrypts payloads; give this client the same keys (${KEYS_VARIABLE})`;
  }
  return message;
}

function describeCause(cause: Error): string {
  let innermost = cause;
  while (innermost instanceof ActivityFailure && innermost.cause) innermost = innermost.cause;
  if (innermost instanceof ApplicationFailure && innermost.type === 'OpenStackAuth') {
    return `authentication failed (check the worker's OpenStack credentials): ${innermost.message}`;
  }
  return innermost.message;
}
