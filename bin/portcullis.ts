#!/usr/bin/env node
/**
 * The installed `portcullis` command (package.json `bin`, built to dist/bin/). Policies are the
 * user's TypeScript files, so jiti's loader hooks are registered first: they load `.ts` on every
 * supported Node alike (20 has no type stripping; 22 and 24 strip types but do not resolve
 * `./keys.js` to `./keys.ts` or extensionless imports, which TypeScript projects write). Exit codes
 * and output are the CLI's own.
 * @module
 */
import 'jiti/register';

await import('./cli.ts');
