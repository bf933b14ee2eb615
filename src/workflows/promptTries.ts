// Plain constants, shared by the lifecycle's stubs of the first tries made within a workflow task
// (a local activity each) and the activities that run them, so that each try's timeout always
// leaves room for its own budget. The SDK extends a task whose local activities pass 80% of its
// 10 s timeout, at the cost of a task more: both tries stay well inside that.

/**
 * How long the lifecycle's first try at a delete waits for the server to go: past most deletes
 * (about 1 s on a real Nova).
 */
export const PROMPT_DELETE_WAIT_MS = 5_000;

/** The try's start-to-close timeout: its wait, and the DELETE (and the look-up of a removed worker's cloud) before it. */
export const PROMPT_DELETE_TIMEOUT_MS = PROMPT_DELETE_WAIT_MS + 2_000;

/**
 * How long the lifecycle's first try at a create may take, look-ups and POST included: past most
 * creates (Nova answers a POST in well under a second, a few seconds when 30 arrive at once).
 * One that needs longer is not abandoned: its POST's server is adopted by the create activity.
 */
export const PROMPT_CREATE_BUDGET_MS = 5_000;

/** The try's start-to-close timeout: its budget, and the time to say how it fell short. */
export const PROMPT_CREATE_TIMEOUT_MS = PROMPT_CREATE_BUDGET_MS + 2_000;
