/** Exit codes of every command, so a CI master's scripts can branch on them. */
export const EXIT = {
  ok: 0,
  /** Something failed: the lifecycle, the Temporal service, the cloud. */
  failure: 1,
  /** Bad command line or configuration; nothing was started. */
  usage: 2,
  /** The lifecycle ended because the CI worker never attached. */
  missing: 3,
  /** No lifecycle exists for that worker name. */
  notFound: 4,
} as const;
