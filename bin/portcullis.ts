#!/usr/bin/env node
/**
 * The installed `portcullis` command (package.json `bin`, built to dist/bin/). Policies and specs are
 * the user's TypeScript files; jiti loads them, alike on every supported Node: Node 20 cannot strip
 * types, and the type stripping of Node 22 and 24 does not resolve `./settings.js` to
 * `./settings.ts` nor extensionless imports, as TypeScript projects write them. What the files import
 * from node_modules (portcullis itself) loads natively, so the CLI and the policy share one copy.
 * @module
 */
import { createJiti } from 'jiti';
import { useImporter } from './import-file.ts';

// No cache on disk: the CLI writes nothing into the user's project it was not asked to.
const jiti = createJiti(import.meta.url, { fsCache: false });
useImporter((path) => jiti.import<Record<string, unknown>>(path));

await import('./cli.ts');
