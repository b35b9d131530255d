#!/usr/bin/env node
// The portcullis CLI. Policies are TypeScript modules, so the CLI and the files it loads run
// through tsx's loader, registered in this process (exit codes and output pass straight through).
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
