/**
 * The README's adapter snippets are the servers the conformance suite runs, character for character.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './runtime.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README adapter snippets', () => {
  it.each(['node.ts', 'hono.ts', 'hono-bun.ts', 'hono-node.ts', 'bun.ts', 'deno.ts'])('test/conformance/servers/%s is in the README', (file) => {
    const source = readFileSync(join(ROOT, 'test/conformance/servers', file), 'utf8');
    // The file's opening comment says where it comes from; the README names the policy module ./policy.ts.
    const code = source.replace(/^(\/\/.*\n)+/, '').replace("'../policy.ts'", "'./policy.ts'");
    expect(readme).toContain(code.trimEnd());
  });
});
