/**
 * Stack 4: portcullis on its Node adapter (`serve(policy, handler)`).
 * @module
 */

import { serve } from '../../adapters/node.ts';
import { HOST, keyFromEnv, userBody } from '../scenario.ts';
import { announce } from './listen.ts';
import { benchPolicy } from './policy.ts';

// A string body, as Hono's c.json() makes: @hono/node-server writes it without a stream (Response.json()
// would build a full fetch Response whose body stream the server must pump).
const json = { 'content-type': 'application/json' };
const running = await serve(benchPolicy(keyFromEnv()), (_request, decision) => new Response(JSON.stringify(userBody(decision.params.id!)), { headers: json }), {
  port: 0,
  hostname: HOST,
  handleSignals: false,
});

await announce(running.server);
