/** Every policy spec in policies/, run as vitest cases (the same specs `portcullis test policies` runs). */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSpec, type PolicySpec } from '../tools/testing/index.ts';

const files = readdirSync(new URL('.', import.meta.url)).filter((file) => file.endsWith('.spec.ts'));

/**
 * Routes a spec cannot deny without a thousand cases: the demo's public GETs are refused only by
 * its 1000-per-15-minutes bucket (test/demo/ratelimit.test.ts refuses /v1/health over HTTP).
 */
const KNOWN_GAPS: Record<string, string[]> = {
  'demo.spec.ts': ['GET /v1/health', 'GET /.well-known/jwks.json'],
};

describe.each(files)('%s', (file) => {
  it('passes every case, and has cases', async () => {
    const spec = ((await import(`./${file}`)) as { default: PolicySpec }).default;
    const report = await runSpec(spec);
    expect(report.results.length).toBeGreaterThan(0);
    expect(report.failed.map((failure) => `${failure.name}: ${failure.message}`)).toEqual([]);
  });

  it('specifies every route: at least one allowed and one denied case', async () => {
    const spec = ((await import(`./${file}`)) as { default: PolicySpec }).default;
    const report = await runSpec(spec);
    const gaps = report.coverage.filter((route) => !route.allowed || !route.denied).map((route) => route.route);
    expect(gaps).toEqual(KNOWN_GAPS[file] ?? []);
  });
});
