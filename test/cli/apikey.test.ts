/** `npm run apikey`: a new key and the hash a policy stores instead of it. */
import { execFileSync, spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { checkApiKeyChecksum, hashApiKey } from '../../src/index.ts';

const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/apikey.ts', ...args], { encoding: 'utf8' });

it('prints a fresh checksummed key with the prefix, the SHA-256 hash of exactly that key, and its scanner pattern', async () => {
  const first = run('pk_live');
  expect(first.status).toBe(0);
  const [, key] = /^key:\s+(\S+)$/m.exec(first.stdout)!;
  const [, hash] = /^hash:\s+([0-9a-f]{64})$/m.exec(first.stdout)!;
  const [, pattern] = /^pattern:\s+(\S+)$/m.exec(first.stdout)!;
  expect(key).toMatch(/^pk_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
  expect(checkApiKeyChecksum(key!)).toBe('valid');
  expect(hash).toBe(await hashApiKey(key!));
  expect(new RegExp(pattern!).exec(`KEY=${key} # leaked`)?.[0]).toBe(key);
  const second = /^key:\s+(\S+)$/m.exec(run('pk_live_').stdout)![1];
  expect(second).toMatch(/^pk_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
  expect(second).not.toBe(key);
});

it.each(['bad prefix!', '1pk', 'pk__live'])('refuses the prefix %j with exit code 2', (prefix) => {
  const result = run(prefix);
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('must be up to 32 letters, digits and single underscores');
  expect(result.stdout).toBe('');
});

it('is what npm run apikey runs', () => {
  const scripts = JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json").scripts)'], { encoding: 'utf8' }));
  expect(scripts.apikey).toBe('tsx bin/apikey.ts');
});
