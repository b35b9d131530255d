/**
 * Rewrites the table of docs/reason-codes.md from the engine's REASONS table:
 * `npm run docs:reasons`. test/docs/snippets.test.ts fails when the two disagree.
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { REASONS } from '../src/decision.ts';

const file = new URL('../docs/reason-codes.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const header = '| code | status | title |\n| --- | ---: | --- |\n';
const start = text.indexOf(header);
if (start < 0) throw new Error('docs/reason-codes.md: no reason table to rewrite');
const end = text.indexOf('\n\n', start);
const rows = Object.entries(REASONS).map(([code, { status, title }]) => `| \`${code}\` | ${status} | ${title} |`);
writeFileSync(file, `${text.slice(0, start)}${header}${rows.join('\n')}${text.slice(end)}`);
