import { defineConfig } from 'vitest/config';

// The conformance tier: the same scenarios against CONFORMANCE_TARGET=simulator (default) or
// CONFORMANCE_TARGET=openstack (a real cloud on 127.0.0.1, see scripts/openstack-conformance.sh).
// The cloud-API scenarios need no Temporal server; buildbot.test.ts (the seed examples on a real
// Buildbot master) starts a Temporal dev server of its own.
export default defineConfig({
  test: {
    include: ['test/conformance/**/*.test.ts'],
    pool: 'forks',
    // One file at a time: the real cloud runs on the same two cores, and quota scenarios change
    // a project's limits that other files would otherwise see.
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // The real cloud shares two cores with everything else: one retry, each listed at the end.
    retry: 1,
    reporters: ['default', './test/support/flakyReporter.ts'],
  },
});
