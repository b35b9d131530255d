/**
 * Gateway stack `portcullis-bun`: `guard(policy, forwardTo(origin))` from `portcullis/bun` under
 * `Bun.serve`, forwarding with Bun's own fetch. Run by the real `bun` binary, not forked: it prints
 * its port as a JSON line and exits on SIGTERM.
 * @module
 */

import { guard } from '../../../adapters/bun.ts';
import { forwardTo } from '../../../src/index.ts';
import { HOST, keyFromEnv } from '../../scenario.ts';
import { benchPolicy } from '../policy.ts';
import { originFromEnv } from './origin.ts';

declare const Bun: { serve(options: { hostname: string; port: number; fetch: unknown }): { port: number } };

const server = Bun.serve({ hostname: HOST, port: 0, fetch: guard(benchPolicy(keyFromEnv()), forwardTo(originFromEnv().origin)) });
console.log(JSON.stringify({ port: server.port }));
