/** `portcullis report`: what it writes and prints for a small log, and exit 2 with a clear message on every usage or file error. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { portcullis } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-report-cli-'));
const log = join(dir, 'events.jsonl');
writeFileSync(
  log,
  [
    'portcullis demo gateway listening on http://127.0.0.1:8787',
    JSON.stringify({ time: '2026-12-03T10:00:00Z', event: 'portcullis.deny', reason: 'authn.required', status: 401, method: 'GET', path: '/v0/users/u_bob', route: 'GET /v0/users/:id', clientIp: '203.0.113.7', requestId: 'r1' }),
    JSON.stringify({ time: '2026-12-03T10:00:01Z', event: 'portcullis.deny', reason: 'ratelimit.exceeded', status: 429, method: 'POST', path: '/v1/auth/login', route: 'POST /v1/auth/login', clientIp: '203.0.113.7', requestId: 'r2' }),
    '',
  ].join('\n'),
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('portcullis report', () => {
  it('writes the page and prints the summary, deprecated versions from --policy', async () => {
    const out = join(dir, 'report.html');
    const { code, stdout, stderr } = await portcullis('report', log, '--out', out, '--policy', 'policies/demo.ts');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('3 lines read: 2 events, 2026-12-03 10:00:00Z to 2026-12-03 10:00:01Z');
    expect(stdout).toContain('skipped 1 line that is not JSON (first at line 1)');
    expect(stdout).toContain('top refused addresses: 203.0.113.7 (2)');
    expect(stdout).toContain('deprecated-version traffic: 1 (GET /v0/users/:id: 1)');
    expect(stdout).toMatch(/wrote .*report\.html \(\d+\.\d kB\)/);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('uPlot');
    // Self-contained: nothing in the page names another resource.
    expect(html).not.toMatch(/\s(src|href)=/);
  });

  it('says it cannot tell deprecated traffic without --policy or a deprecated field', async () => {
    const { code, stdout } = await portcullis('report', log, '--out', join(dir, 'plain.html'));
    expect(code).toBe(0);
    expect(stdout).toContain('deprecated-version traffic: unknown (no deprecated field in the events; pass --policy)');
  });

  it.each([
    [['report'], 'report takes one events file', true],
    [['report', log], 'report needs --out <file.html>', true],
    [['report', log, '--out', 'x.html', '--top', '0'], '--top takes a whole number of at least 1, not "0"', true],
    [['report', join(dir, 'missing.jsonl'), '--out', 'x.html'], `${join(dir, 'missing.jsonl')}: no such file`, false],
    [['report', dir, '--out', 'x.html'], `${dir}: not a file`, false],
    [['report', log, '--out', join(dir, 'no/such/dir/report.html')], `--out ${join(dir, 'no/such/dir/report.html')}: cannot write (ENOENT)`, false],
    [['report', log, '--out', 'x.html', '--policy', 'no/such/policy.ts'], 'no/such/policy.ts: no such file', false],
  ] as const)('exits 2 on a usage or file error: %j', async (args, message, usage) => {
    const { code, stdout, stderr } = await portcullis(...args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr.includes('Usage:')).toBe(usage);
    expect(stdout).toBe('');
  });
});
