/**
 * Gateway stack `portcullis-node`: `serve(policy, forwardTo(origin))` from `portcullis/node`, the
 * bench policy in front of the bare origin (serve() forwards over its keep-alive node:http client).
 * BENCH_TRANSPORT=fetch forwards with the runtime's `fetch` instead, to compare the two.
 * @module
 */

import { serve } from '../../../adapters/node.ts';
import { forwardTo } from '../../../src/index.ts';
import { HOST, keyFromEnv } from '../../scenario.ts';
import { announce } from '../listen.ts';
import { benchPolicy } from '../policy.ts';
import { originFromEnv } from './origin.ts';

const options = process.env.BENCH_TRANSPORT === 'fetch' ? { fetch: (input: URL, init: RequestInit) => fetch(input, init) } : {};
const running = await serve(benchPolicy(keyFromEnv()), forwardTo(originFromEnv().origin, options), { port: 0, hostname: HOST, handleSignals: false });

await announce(running.server);
