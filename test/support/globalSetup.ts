import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { resolveTestServer } from '../../src/temporal/binaries.js';
import { startDevServer } from '../../src/temporal/devServer.js';
import { projectRoot } from '../../src/temporal/paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:PORT` of the dev server shared by the whole test run. */
    temporalAddress: string;
    /** The time-skipping test server binary, for `createTimeSkippingEnv()`. */
    temporalTestServerPath: string;
  }
}

// One dev server per run: starting one per file would cost seconds each on a 2-core machine.
// Any failure here throws, which fails the whole run: Temporal tests are never skipped.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const testServerPath = await resolveTestServer();
  const server = await startDevServer({ logFile: path.join(projectRoot, '.scratch', 'vitest-dev-server.log') });
  project.provide('temporalAddress', server.address);
  project.provide('temporalTestServerPath', testServerPath);
  return () => server.stop();
}
