import type { Client, WorkflowExecutionDescription } from '@temporalio/client';

/** temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT (the proto package is not a dependency). */
const HISTORY_CLOSE_EVENT_ONLY = 2;

/**
 * Where the lifecycle that `runId` belongs to stands now: the description of its running run,
 * or of the run that closed it. A lifecycle continues as new to keep its history small, so the
 * run that created a server, or that substantiate returned, is followed through its hand-overs.
 */
export async function currentRunOf(client: Client, workflowId: string, runId: string): Promise<WorkflowExecutionDescription> {
  let description = await client.workflow.getHandle(workflowId, runId).describe();
  while (description.status.name === 'CONTINUED_AS_NEW') {
    description = (await latestOfChain(client, workflowId, description)) ?? (await client.workflow.getHandle(workflowId, await runAfter(client, workflowId, description.runId)).describe());
  }
  return description;
}

/** The latest run, when the service says it belongs to the same chain (a shortcut past every hand-over). */
async function latestOfChain(client: Client, workflowId: string, run: WorkflowExecutionDescription): Promise<WorkflowExecutionDescription | undefined> {
  const firstRunId = run.raw.workflowExecutionInfo?.firstRunId;
  if (!firstRunId) return undefined;
  const latest = await client.workflow.getHandle(workflowId).describe();
  return latest.raw.workflowExecutionInfo?.firstRunId === firstRunId && latest.runId !== run.runId ? latest : undefined;
}

/** The run that `runId` continued as: read from its close event alone. */
async function runAfter(client: Client, workflowId: string, runId: string): Promise<string> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    historyEventFilterType: HISTORY_CLOSE_EVENT_ONLY,
  });
  const next = history?.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  if (!next) throw new Error(`run ${runId} of ${workflowId} continued as new, but its close event names no next run`);
  return next;
}
