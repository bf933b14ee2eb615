import { fileURLToPath } from 'node:url';

// This module lives two levels below the project root both as source (src/temporal/*.ts, run by
// tsx and vitest) and compiled (dist/temporal/*.js), so the root is found without depending on
// the caller's working directory.
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
