import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'chaos/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests share two redis-server processes (own prefix and queue per test file);
    // two cores, so two files at a time.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
