import * as names from './names.js';

/** Where the Python adapter's copy of the contract is committed, relative to the project root. */
export const PYTHON_CONTRACT_FILE = 'integrations/buildbot/latent_worker_buildbot/contract.py';

const py = (value: unknown): string => JSON.stringify(value);
const tuple = (values: readonly string[]): string => `(${values.map(py).join(', ')}${values.length === 1 ? ',' : ''})`;

/**
 * The contract as a Python module, generated from names.ts so that the two languages cannot drift
 * apart: `npm run contract` writes it, test/contract.test.ts fails when the committed file differs.
 */
export function renderPythonContract(): string {
  const lines = [
    '"""The names the lifecycle worker answers to.',
    '',
    'GENERATED from src/contract/names.ts by `npm run contract`: do not edit by hand.',
    '"""',
    '',
    `DEFAULT_TASK_QUEUE = ${py(names.DEFAULT_TASK_QUEUE)}`,
    `LIFECYCLE_WORKFLOW_TYPE = ${py(names.LIFECYCLE_WORKFLOW_TYPE)}`,
    `WORKFLOW_ID_PREFIX = ${py(names.WORKFLOW_ID_PREFIX)}`,
    '',
    ...Object.entries(names.SIGNALS).map(([key, value]) => `SIGNAL_${snake(key)} = ${py(value)}`),
    ...Object.entries(names.QUERIES).map(([key, value]) => `QUERY_${snake(key)} = ${py(value)}`),
    ...Object.entries(names.MASTER_ACTIVITIES).map(([key, value]) => `MASTER_ACTIVITY_${snake(key)} = ${py(value)}`),
    `IMAGE_TASK_QUEUE_PREFIX = ${py(names.imageTaskQueueFor(''))}`,
    '',
    ...Object.entries(names.SEARCH_ATTRIBUTES).map(([key, value]) => `SEARCH_ATTRIBUTE_${snake(key)} = ${py(value)}`),
    '',
    '# In the order a lifecycle moves through them.',
    `PHASES = ${tuple(names.PHASES)}`,
    `OUTCOMES = ${tuple(names.OUTCOMES)}`,
    `RELEASE_REASONS = ${tuple(names.RELEASE_REASONS)}`,
    '',
    ...Object.entries(names.FAILURE_TYPES).map(([key, value]) => `FAILURE_${snake(key)} = ${py(value)}`),
    '',
    `INPUT_SCHEMA_FILE = ${py(names.INPUT_SCHEMA_FILE)}`,
    '',
    '',
    'def workflow_id_for(worker_name: str) -> str:',
    '    """One live lifecycle per worker name: a second start of the same name joins it."""',
    '    return WORKFLOW_ID_PREFIX + worker_name',
    '',
    '',
    'def image_task_queue_for(worker_name: str) -> str:',
    '    """The task queue a master serves chooseImage on for one worker."""',
    '    return IMAGE_TASK_QUEUE_PREFIX + worker_name',
    '',
  ];
  return lines.join('\n');
}

function snake(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
