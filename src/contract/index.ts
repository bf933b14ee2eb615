// The contract between the worker fleet and CI masters in any language. Workflow code imports
// ./names.js directly: ./inputSchema.js pulls in zod, which must stay out of the workflow bundle.
export * from './names.js';
export { inputProblems, lifecycleInputSchema, workerSpecSchema } from './inputSchema.js';
export { lifecycleInputJsonSchema, renderInputJsonSchema } from './inputJsonSchema.js';
export { PYTHON_CONTRACT_FILE, renderPythonContract } from './python.js';
