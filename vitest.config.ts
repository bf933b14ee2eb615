import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal native bridge misbehaves under worker threads: keep forked processes.
    pool: 'forks',
    globalSetup: ['test/support/globalSetup.ts'],
    setupFiles: ['test/support/quietRuntime.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    include: ['test/**/*.test.ts'],
    // The conformance tier runs against a chosen cloud: `npm run test:conformance` / `test:openstack`.
    exclude: [...configDefaults.exclude, 'test/conformance/**'],
  },
});
