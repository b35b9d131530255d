/**
 * Gateway stack `portcullis-node`: `serve(policy, forwardTo(origin, { transport: nodeTransport() }))`
 * from `portcullis/node`, the bench policy in front of the bare origin. BENCH_TRANSPORT=fetch
 * forwards with the runtime's `fetch` instead, to compare the two.
 * @module
 */

import { nodeTransport, serve } from '../../../adapters/node.ts';
import { forwardTo } from '../../../src/index.ts';
import { HOST, keyFromEnv } from '../../scenario.ts';
import { announce } from '../listen.ts';
import { benchPolicy } from '../policy.ts';
import { originFromEnv } from './origin.ts';

const transport = process.env.BENCH_TRANSPORT === 'fetch' ? undefined : nodeTransport();
const running = await serve(benchPolicy(keyFromEnv()), forwardTo(originFromEnv().origin, { transport }), { port: 0, hostname: HOST, handleSignals: false });

await announce(running.server);
