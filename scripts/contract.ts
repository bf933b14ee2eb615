// Writes contract/lifecycle-input.schema.json from the workflow's input schema (`npm run contract`).
// test/contract.test.ts fails when the committed file is out of date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INPUT_SCHEMA_FILE, renderInputJsonSchema } from '../src/client/inputJsonSchema.js';
import { projectRoot } from '../src/temporal/paths.js';

writeFileSync(join(projectRoot, INPUT_SCHEMA_FILE), renderInputJsonSchema());
console.log(`wrote ${INPUT_SCHEMA_FILE}`);
