import { defineConfig } from 'vitest/config';

/**
 * Two groups, run one after the other:
 *  - `suite`: every test that shares the machine politely (unit tests, and integration tests
 *    with a nats-server of their own on free ports), two files at a time;
 *  - `exclusive`: tests that need the machine to themselves, one file at a time, after the rest:
 *    network namespaces and tc shaping, and the bandwidth suites, whose pacing and memory
 *    figures mean nothing while another file takes the CPU. Beside other files, the shaped-link
 *    set-up's bulk apply competed with the 20 MB apply of the resume test for two cores. And
 *    the chaos suite: four nats-servers, two hubs, three agents and a churn driver at once.
 */
const EXCLUSIVE = ['test/bandwidth/**/*.test.ts', 'test/chaos/**/*.test.ts'];

const shared = {
  // Integration tests start real nats-servers and processes. Generous bounds: they catch a hang,
  // not slowness; a busy 2-core machine may take several times as long as an idle one.
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
  // Every fetch a test makes is bounded (see the file).
  setupFiles: ['test/support/bounded-fetch.ts'],
};

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: [
            'shared/src/**/*.test.ts',
            'hub/src/**/*.test.ts',
            'edge-agent/src/**/*.test.ts',
            'test/**/*.test.ts',
          ],
          // Benchmarks run through `npm run bench`; only the unit tests of the workload generator and of the publication rounds belong in `npm test`.
          exclude: ['**/node_modules/**', 'test/bench/**/!(workload|rounds).test.ts', ...EXCLUSIVE],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'exclusive',
          include: EXCLUSIVE,
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
