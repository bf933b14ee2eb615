// Writes the generated halves of the contract (`npm run contract`): the lifecycle input's JSON
// Schema and the Python adapter's contract module. test/contract.test.ts fails when either
// committed file is out of date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INPUT_SCHEMA_FILE, renderInputJsonSchema } from '../src/contract/inputJsonSchema.js';
import { PYTHON_CONTRACT_FILE, renderPythonContract } from '../src/contract/python.js';
import { projectRoot } from '../src/temporal/paths.js';

writeFileSync(join(projectRoot, INPUT_SCHEMA_FILE), renderInputJsonSchema());
console.log(`wrote ${INPUT_SCHEMA_FILE}`);
writeFileSync(join(projectRoot, PYTHON_CONTRACT_FILE), renderPythonContract());
console.log(`wrote ${PYTHON_CONTRACT_FILE}`);
