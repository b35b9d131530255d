/**
 * Stack 4: portcullis on its Node adapter (`serve(policy, handler)`).
 * @module
 */

import { serve } from '../../adapters/node.ts';
import { HOST, keyFromEnv, userBody } from '../scenario.ts';
import { announce } from './listen.ts';
import { benchPolicy } from './policy.ts';

const running = await serve(benchPolicy(keyFromEnv()), (_request, decision) => Response.json(userBody(decision.params.id!)), {
  port: 0,
  hostname: HOST,
  handleSignals: false,
});

await announce(running.server);
