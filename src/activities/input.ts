import { inputProblems } from '../contract/inputSchema.js';

/**
 * What is wrong with a lifecycle's input, one `path: problem` per field. A local activity, so that
 * the schema (zod) stays in the worker's main thread instead of in every lifecycle's sandbox.
 */
export async function checkInput(input: unknown): Promise<string[]> {
  return inputProblems(input);
}
