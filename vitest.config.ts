import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'policies/**/*.test.ts', 'adapters/**/*.test.ts'],
    testTimeout: 20_000,
    // Tests pin their own clocks; nothing here depends on wall time.
    passWithNoTests: false,
  },
});
