// Plain constants, shared by the lifecycle's stub of the delete's first try and the activity
// that runs it, so that the try's timeout always leaves room for its wait.

/**
 * How long the lifecycle's first try at a delete waits for the server to go: within the workflow
 * task that runs it (the SDK extends a task whose local activities pass 80% of its 10 s timeout,
 * at the cost of a task more), and past most deletes (about 1 s on a real Nova).
 */
export const PROMPT_DELETE_WAIT_MS = 5_000;

/** The try's start-to-close timeout: its wait, and the DELETE (and the look-up of a removed worker's cloud) before it. */
export const PROMPT_DELETE_TIMEOUT_MS = PROMPT_DELETE_WAIT_MS + 2_000;
