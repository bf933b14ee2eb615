import { ApplicationFailure } from '@temporalio/common';
import { OpenStackError } from '../openstack/index.js';

/**
 * Turns a cloud error into the failure Temporal records: non-retryable when the cloud said the
 * request itself is wrong, with the cloud's own Retry-After when it gave one. The message is the
 * client's, which never carries tokens, passwords or request bodies.
 */
export function asFailure(error: unknown): unknown {
  if (!(error instanceof OpenStackError)) return error;
  return ApplicationFailure.create({
    message: error.message,
    type: `OpenStack${error.kind ? capitalize(error.kind) : 'Error'}`,
    nonRetryable: !error.retryable,
    nextRetryDelay: error.retryAfterMs,
    details: [{ service: error.service, operation: error.operation, status: error.status, requestId: error.requestId }],
  });
}

export async function cloudCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asFailure(error);
  }
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
