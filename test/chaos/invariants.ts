import type { SimServer } from '../../src/simulator/index.js';
import { everyServer, type LedgerServer } from './cloudLedger.js';
import type { Outcome, OutcomeKind, Trial } from './trial.js';
import { serverName } from '../../src/workflows/serverNames.js';

/** The owner metadata every server of ours carries (src/activities/servers.ts OWNER_KEYS). */
const OWNER = { workflowId: 'latent-worker:workflow-id', runId: 'latent-worker:run-id', attempt: 'latent-worker:attempt' } as const;
const DEFINED: readonly OutcomeKind[] = ['released', 'missing', 'failed', 'cancelled', 'terminated'];

export interface CloudCount {
  /** Every server the trial's cloud ever had (each trial has a simulator of its own). */
  created: LedgerServer[];
  /** POST /servers requests the cloud received (a lost or refused create is one too). */
  createRequests: number;
  /** Servers still there, deleting ones included. */
  left: SimServer[];
  /** Servers beyond the first for one launch attempt of one run, or for one server name. */
  duplicates: number;
}

export async function countCloud(trial: Trial): Promise<CloudCount> {
  // Companion lifecycles' servers are the scenario's to check; these invariants are the trial's own lifecycle's.
  const created = (await everyServer(trial.sim)).filter((server) => !trial.setup.companions.some((name) => server.metadata[OWNER.workflowId] === `latent-worker:${name}`));
  const createRequests = trial.sim.requests().filter((request) => request.method === 'POST' && /\/compute\/v2\.1(\/[^/]+)?\/servers$/.test(request.path)).length;
  const byAttempt = countBy(created, (server) => `${server.metadata[OWNER.runId] ?? '?'}/${server.metadata[OWNER.attempt] ?? server.name}`);
  const byName = countBy(created, (server) => server.name);
  const extra = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
  return { created, createRequests, left: trial.sim.servers(), duplicates: Math.max(extra(byAttempt), extra(byName)) };
}

/**
 * The brief's invariants for one lifecycle: a defined (and the expected) outcome, at most one
 * server per launch attempt, every server traceable to its lifecycle, and none left, except a
 * terminated lifecycle's, which must be identifiable for the reaper.
 */
export function invariantViolations(trial: Trial, outcome: Outcome, cloud: CloudCount, expect: readonly OutcomeKind[], leftAllowed: boolean): string[] {
  const violations: string[] = [];
  if (!DEFINED.includes(outcome.kind as OutcomeKind)) violations.push(`no defined outcome: ${outcome.message ?? outcome.kind}`);
  else if (!expect.includes(outcome.kind as OutcomeKind)) violations.push(`outcome ${outcome.kind}${outcome.message ? ` (${outcome.message})` : ''}, expected ${expect.join(' or ')}`);
  if (outcome.kind === 'failed' && !outcome.message?.trim()) violations.push('failed without a message');

  if (cloud.duplicates > 0) {
    violations.push(`${cloud.duplicates} duplicate server(s): ${cloud.created.map((s) => `${s.name} (attempt ${s.metadata[OWNER.attempt] ?? '?'})`).join(', ')}`);
  }
  for (const server of cloud.created) {
    const problems = ownershipProblems(trial, server);
    if (problems) violations.push(`server ${server.name} ${server.id}: ${problems}`);
  }
  if (cloud.left.length > 0 && !leftAllowed) {
    violations.push(`${cloud.left.length} server(s) left: ${cloud.left.map((s) => `${s.name} ${s.id} ${s.status}`).join(', ')}`);
  }
  return violations;
}

/** Why `server` could not be traced to this trial's lifecycle, or undefined when it can. */
export function ownershipProblems(trial: Trial, server: { name: string; metadata: Record<string, string> }): string | undefined {
  const problems: string[] = [];
  const workflowId = server.metadata[OWNER.workflowId];
  const runId = server.metadata[OWNER.runId];
  const attempt = server.metadata[OWNER.attempt];
  if (workflowId !== `latent-worker:${trial.name}`) problems.push(`${OWNER.workflowId} is ${workflowId ?? 'missing'}`);
  if (runId !== trial.runId) problems.push(`${OWNER.runId} is ${runId ?? 'missing'}, the run was ${trial.runId}`);
  if (!attempt || !/^\d+$/.test(attempt)) problems.push(`${OWNER.attempt} is ${attempt ?? 'missing'}`);
  else if (server.name !== serverName(trial.name, trial.runId, Number(attempt))) problems.push(`name does not match its run and attempt ${attempt}`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}
