/**
 * A reference, not one of the five stacks (`BENCH_STACKS=…,portcullis-open`): portcullis-node with
 * the bench policy's transport, CORS and headers but an anonymous route — no token, no bucket, no
 * schema. Its distance from `bridge` is what the adapter and the pipeline cost with nothing to check;
 * its distance from portcullis-node is what the checks cost.
 * @module
 */

import { serve } from '../../adapters/node.ts';
import { definePolicy } from '../../src/index.ts';
import { HOST, ORIGIN, userBody } from '../scenario.ts';
import { announce } from './listen.ts';

const json = { 'content-type': 'application/json' };
const policy = definePolicy({
  transport: { requireHttps: true, allowLoopbackHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
  cors: { origins: [ORIGIN], credentials: true, maxAge: 86400 },
  routes: { 'GET /users/:id': { authn: 'anonymous' } },
});
const running = await serve(policy, (_request, decision) => new Response(JSON.stringify(userBody(decision.params.id!)), { headers: json }), {
  port: 0,
  hostname: HOST,
  handleSignals: false,
});

await announce(running.server);
