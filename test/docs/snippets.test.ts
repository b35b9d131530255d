/**
 * Every TypeScript or JavaScript snippet in README.md and docs/*.md is a file that a test runs,
 * character for character: an example in docs/examples/ (run by test/docs/examples.test.ts,
 * type-checked here as a user's project would be), or policies/worker.ts (run on workerd by
 * test/cloudflare/). A snippet may leave out the file's opening comment. Nothing else may be shown
 * as code, so a snippet that no longer runs cannot stay in the docs.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../src/decision.ts';
import { ROOT, runtimeBinary, SOURCE_CONDITION } from '../conformance/runtime.ts';

const EXAMPLES = 'docs/examples';
/** A fenced block whose info string starts with a TypeScript or JavaScript language (```ts, ```js title=…). */
const CODE_FENCE = /^( *)```(ts|typescript|tsx|js|javascript|mjs|cjs|jsx)\b[^\n]*\n([\s\S]*?)^\1```/gim;

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)];
const shown = [...readdirSync(join(ROOT, EXAMPLES)).filter((file) => /\.(ts|js|mjs)$/.test(file)).map((file) => `${EXAMPLES}/${file}`), 'policies/worker.ts'];

/** A file as a snippet may show it: whole, or without its opening comment. */
function spellings(path: string): string[] {
  const source = read(path).trimEnd();
  const withoutComment = source.replace(/^(\/\*\*[\s\S]*?\*\/\n|(\/\/.*\n)+)\n?/, '');
  return [source, withoutComment];
}

/** The code snippets of a Markdown page, dedented when they sit in a list item. */
function snippetsOf(page: string): { line: number; code: string }[] {
  const text = read(page);
  return [...text.matchAll(CODE_FENCE)].map((match) => ({
    line: text.slice(0, match.index).split('\n').length,
    code: match[3]!.replace(new RegExp(`^${match[1]}`, 'gm'), '').trimEnd(),
  }));
}

const snippets = pages.flatMap((page) => snippetsOf(page).map((snippet) => ({ ...snippet, where: `${page}:${snippet.line}` })));

describe('docs snippets', () => {
  it('the pages have snippets (the extraction works)', () => {
    expect(snippets.length).toBeGreaterThan(10);
  });

  it.each(snippets)('$where is a tested file, character for character', ({ code }) => {
    const files = shown.filter((path) => spellings(path).includes(code));
    expect(files, 'no file under docs/examples/ (or policies/worker.ts) is this snippet; put it there and run it in test/docs/examples.test.ts').not.toEqual([]);
  });

  it.each(shown.filter((path) => path.startsWith(EXAMPLES)))('%s is shown in the docs', (path) => {
    const forms = spellings(path);
    expect(snippets.some(({ code }) => forms.includes(code))).toBe(true);
  });
});

const run = promisify(execFile);

describe('docs/examples type-check as a user project would', () => {
  it.each([
    ['Node', process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', `${EXAMPLES}/tsconfig.json`]],
    ['Bun', process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', `${EXAMPLES}/tsconfig.bun.json`]],
    ['Deno', runtimeBinary('deno'), ['check', '--quiet', SOURCE_CONDITION, `${EXAMPLES}/deno-server.ts`, `${EXAMPLES}/otel-deno.ts`]],
  ])('%s', async (_, command, args) => {
    await expect(run(command, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' } })).resolves.toBeDefined();
  }, 120_000);
});

it('docs/reason-codes.md lists every reason code with its status and title, and no other', () => {
  const rows = [...read('docs/reason-codes.md').matchAll(/^\| `([a-z_.]+)` \| (\d+) \| ([^|]+) \|$/gm)].map((row) => [row[1], Number(row[2]), row[3]!.trim()]);
  expect(rows).toEqual(Object.entries(REASONS).map(([code, { status, title }]) => [code, status, title]));
});
