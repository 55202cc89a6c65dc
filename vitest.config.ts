import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Verbose: every test by name, and the reason of every skip (e.g. no local cluster to inject faults into).
    reporters: ['verbose'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.db.test.ts'],
        },
      },
      {
        test: {
          name: 'db',
          // Real PostgreSQL: a primary + 2 streaming replicas started by test/support/global-setup.ts.
          include: ['test/**/*.db.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // One cluster is shared and faults are injected into it: test files run one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
