/** `npm run apikey`: a new key and the hash a policy stores instead of it. */
import { execFileSync, spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { hashApiKey } from '../../src/index.ts';

const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/apikey.ts', ...args], { encoding: 'utf8' });

it('prints a fresh key with the prefix and the SHA-256 hash of exactly that key', async () => {
  const first = run('pk_live_');
  expect(first.status).toBe(0);
  const [, key] = /^key:\s+(\S+)$/m.exec(first.stdout)!;
  const [, hash] = /^hash:\s+([0-9a-f]{64})$/m.exec(first.stdout)!;
  expect(key).toMatch(/^pk_live_[A-Za-z0-9_-]{43}$/);
  expect(hash).toBe(await hashApiKey(key!));
  const second = /^key:\s+(\S+)$/m.exec(run('pk_live_').stdout)![1];
  expect(second).not.toBe(key);
});

it('refuses a prefix that is not letters, digits and underscores, with exit code 2', () => {
  const result = run('bad prefix!');
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('must be letters, digits and underscores');
  expect(result.stdout).toBe('');
});

it('is what npm run apikey runs', () => {
  const scripts = JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json").scripts)'], { encoding: 'utf8' }));
  expect(scripts.apikey).toBe('tsx bin/apikey.ts');
});
