#!/usr/bin/env node
// The portcullis CLI run from the repository's sources, as the tests run it (the installed command is
// bin/portcullis.ts, built to dist/). tsx's loader runs the TypeScript, and `portcullis` imported by
// its own name resolves to the sources (the `@portcullis/source` export condition), not to dist/.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

const addSourceCondition = `export const resolve = (specifier, context, next) =>
  next(specifier, { ...context, conditions: ['@portcullis/source', ...context.conditions] });`;
registerHooks(`data:text/javascript,${encodeURIComponent(addSourceCondition)}`);
register();
await import('./cli.ts');
