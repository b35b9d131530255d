import { readdirSync } from 'node:fs';
import { it } from 'vitest';
import { assertSpec, runSpec, type PolicySpec } from 'portcullis/testing';

// Every policy spec beside this file, one vitest test each (`npx portcullis test .` runs the same).
const files = readdirSync(import.meta.dirname).filter((file) => file.endsWith('.spec.ts'));

it.each(files)('%s', async (file) => {
  const { default: spec } = (await import(new URL(file, import.meta.url).href)) as { default: PolicySpec };
  assertSpec(await runSpec(spec));
});
