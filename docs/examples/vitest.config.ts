import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // vitest's default include takes *.spec.ts too, and fails a file that registers no test
    // ("No test suite found"): policy specs are tables for runSpec, run by specs.test.ts.
    exclude: [...configDefaults.exclude, '**/*.spec.ts'],
  },
});
