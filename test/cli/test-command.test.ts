/**
 * `portcullis test <dir>`: the real CLI runs every *.spec.ts under a directory, prints ✓/✗ per
 * case with the trace of each failure, and fails on a failure or when no case ran.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { portcullis } from './run.ts';

describe('portcullis test', () => {
  it('passes policies/: every spec, with a summary line', async () => {
    const { code, stdout } = await portcullis('test', 'policies');
    expect(code).toBe(0);
    for (const spec of ['demo', 'saas', 'internal', 'public-read']) expect(stdout).toContain(`policies/${spec}.spec.ts — `);
    expect(stdout).toContain('  ✓ alice cannot read bob (BOLA)');
    expect(stdout).toContain('  ✓ another workspace reads an Acme project');
    expect(stdout).not.toContain('✗');
    expect(stdout).toMatch(/\n\d+ passed, 0 failed/);
  });

  it('fails a wrong expectation and shows what differed with the trace', async () => {
    const { code, stdout } = await portcullis('test', 'test/fixtures/specs/failing');
    expect(code).toBe(1);
    expect(stdout).toContain('  ✓ GET /v1/health → 200');
    expect(stdout).toContain('  ✗ expects a 404 from a route that exists');
    expect(stdout).toContain('expected status 404, got 200; expected reason route.not_found, got allow');
    expect(stdout).toContain('route     pass   GET /v1/health');
    expect(stdout).toMatch(/\n1 passed, 1 failed/);
  });

  it('fails a spec that runs no case', async () => {
    const { code, stdout } = await portcullis('test', 'test/fixtures/specs/empty');
    expect(code).toBe(1);
    expect(stdout).toContain('✗ no case ran');
    expect(stdout).toMatch(/\n0 passed, 1 failed/);
  });

  it('fails a directory without spec files', async () => {
    const { code, stdout } = await portcullis('test', mkdtempSync(join(tmpdir(), 'portcullis-empty-')));
    expect(code).toBe(1);
    expect(stdout).toContain('✗ no *.spec.ts file under');
    expect(stdout).toMatch(/\n0 passed, 0 failed/);
  });

  it('names routes without an allowed or a denied case, and fails on them with --require-coverage', async () => {
    const plain = await portcullis('test', 'test/fixtures/specs/partial');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('  ! GET /v1/health: no denied case');
    expect(plain.stdout).toContain('3 passed, 0 failed (1 route not fully specified)');
    const strict = await portcullis('test', 'test/fixtures/specs/partial', '--require-coverage');
    expect(strict.code).toBe(1);
  });

  it('exits 2 when the directory does not exist', async () => {
    const { code, stderr } = await portcullis('test', 'no/such/dir');
    expect(code).toBe(2);
    expect(stderr).toContain('no/such/dir: not a directory');
  });
});
