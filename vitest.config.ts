import { configDefaults, defineConfig } from 'vitest/config';

// What every project runs with. Inline projects do not inherit the root's test options in
// vitest 4, and must not: an inherited globalSetup would start a dev server per project.
const shared = {
  // The Temporal native bridge misbehaves under worker threads: keep forked processes.
  pool: 'forks' as const,
  setupFiles: ['test/support/quietRuntime.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  // Many tests run real servers against a clock; on a loaded machine one may stumble. One retry,
  // and test/support/flakyReporter.ts lists every test that needed it.
  retry: 1,
};

export default defineConfig({
  test: {
    // Runs once for the whole run, projects included: one dev server that every test shares.
    globalSetup: ['test/support/globalSetup.ts'],
    // Two test files at once even on two cores (vitest's default there is one): most of a file's
    // time is waiting on servers, timers and retries, not CPU. On the CI machine of 2026-12-03,
    // npm test went from 1706 s to 992 s, every test passing on its first try.
    maxWorkers: 2,
    reporters: ['default', './test/support/flakyReporter.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'main',
          include: ['test/**/*.test.ts'],
          // The conformance tier runs against a chosen cloud: `npm run test:conformance` / `test:openstack`.
          exclude: [...configDefaults.exclude, 'test/conformance/**', 'test/audit/**'],
        },
      },
      {
        // Reads what every other test left on the shared dev server, so it runs after they finish:
        // groups run in ascending groupOrder. A project that runs its files one at a time
        // (fileParallelism: false) needs a groupOrder of its own below this one, because vitest
        // runs such projects of order 0 after every group.
        test: { ...shared, name: 'audit', include: ['test/audit/**/*.test.ts'], sequence: { groupOrder: 9 } },
      },
    ],
  },
});
