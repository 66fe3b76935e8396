import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'shared/src/**/*.test.ts',
      'hub/src/**/*.test.ts',
      'edge-agent/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // Benchmarks run through `npm run bench`; only the generator's unit test belongs in `npm test`.
    exclude: ['**/node_modules/**', 'test/bench/**/!(workload).test.ts'],
    // Integration tests start real nats-servers and processes; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
