/** Every policy spec in policies/, run as vitest cases (the same specs `portcullis test policies` runs). */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSpec, type PolicySpec } from '../src/testing/index.ts';

const files = readdirSync(new URL('.', import.meta.url)).filter((file) => file.endsWith('.spec.ts'));

describe.each(files)('%s', (file) => {
  it('passes every case, and has cases', async () => {
    const spec = ((await import(`./${file}`)) as { default: PolicySpec }).default;
    const report = await runSpec(spec);
    expect(report.results.length).toBeGreaterThan(0);
    expect(report.failed.map((failure) => `${failure.name}: ${failure.message}`)).toEqual([]);
  });
});
