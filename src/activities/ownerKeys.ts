/** Metadata keys that mark a server as ours; the reaper, adoption and `max_servers` read them. */
export const OWNER_KEYS = {
  deployment: 'latent-worker:deployment',
  workflowId: 'latent-worker:workflow-id',
  runId: 'latent-worker:run-id',
  attempt: 'latent-worker:attempt',
} as const;
