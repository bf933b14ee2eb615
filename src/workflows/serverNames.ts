// A server's name is deterministic per run and launch, so that a create whose response was lost is
// found again by name instead of booting a second server. Pure functions: the chaos suite and
// the tests name servers the same way.

/**
 * The worker name, the random tail of the run id, and the launch. Temporal's run ids are UUIDv7,
 * whose head is the start time: runs started within a minute of each other share it.
 */
export function serverName(workerName: string, runId: string, launch: number): string {
  return `${workerName}-${runId.replace(/-/g, '').slice(-8)}-${launch}`;
}

/** The first shape, from the run id's head: lifecycles started before the change keep it. */
export function serverNameFromRunIdHead(workerName: string, runId: string, launch: number): string {
  return `${workerName}-${runId.slice(0, 8)}-${launch}`;
}
