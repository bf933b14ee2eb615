import { cancellationSignal } from '@temporalio/activity';
import type { CloudRegistry } from './cloudRegistry.js';
import { cloudCall } from './failures.js';
import type { WorkerRef } from '../workflows/types.js';

export type AuthenticateInput = WorkerRef;

/** What history may know about a session: never the token itself. */
export interface AuthenticateResult {
  projectId: string;
  expiresAt: string;
  /** The compute microversion in use, once the cloud has said it serves the one asked for. */
  computeMicroversion?: string;
}

/**
 * Logs in (or reuses this process's token) and checks that the cloud serves the compute API
 * version the worker asks for, so that a client_version too new for the cloud fails here, once,
 * with a clear message, before any server exists.
 */
export function authenticateActivity(clouds: CloudRegistry) {
  return async function authenticate({ workerName }: AuthenticateInput): Promise<AuthenticateResult> {
    const client = clouds.forWorker(workerName);
    const signal = cancellationSignal();
    const session = await cloudCall(() => client.authenticate({ signal }));
    // One version check per cloud and client_version, not one per worker definition.
    const version = `compute-version:${client.compute.microversion ?? 'base'}`;
    const compute = await cloudCall(() => clouds.shareFor(workerName).lookups.get(version, () => client.compute.negotiateMicroversion(), signal));
    return { projectId: session.projectId, expiresAt: session.expiresAt.toISOString(), computeMicroversion: compute.effective };
  };
}
