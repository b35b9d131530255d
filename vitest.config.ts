import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/** Tests import the package by its own name (`portcullis/node`); this condition resolves it to the sources, not dist/. */
const SOURCE_CONDITION = '@portcullis/source';

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] },
  // Without Vite's `module` condition: it picks @opentelemetry/api's build for bundlers (extensionless
  // imports), which Node then refuses to load; Node's own build serves the tests as it serves users.
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions.filter((c) => c !== 'module')] } },
  test: {
    include: ['src/**/*.test.ts', 'tools/**/*.test.ts', 'test/**/*.test.ts', 'policies/**/*.test.ts', 'adapters/**/*.test.ts'],
    testTimeout: 20_000,
    // A process's first demo start makes a Postgres (PGlite, WebAssembly): seconds of CPU, more on a busy machine.
    hookTimeout: 120_000,
    // Tests pin their own clocks; nothing here depends on wall time.
    passWithNoTests: false,
  },
});
