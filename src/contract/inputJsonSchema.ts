import { z } from 'zod';
import { lifecycleInputSchema } from './inputSchema.js';

export { INPUT_SCHEMA_FILE } from './names.js';

/**
 * The lifecycle input as a JSON Schema (draft 2020-12), generated from the schema the workflow
 * checks its input with, so the two cannot disagree.
 */
export function lifecycleInputJsonSchema(): Record<string, unknown> {
  return {
    $id: 'urn:openstack-latent-worker:lifecycle-input',
    ...z.toJSONSchema(lifecycleInputSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'throw' }),
  };
}

export function renderInputJsonSchema(): string {
  return `${JSON.stringify(lifecycleInputJsonSchema(), null, 2)}\n`;
}
