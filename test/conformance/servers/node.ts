// The README's Node snippet, as the conformance suite runs it: `node --import tsx servers/node.ts`.
import { serve } from 'portcullis/node';
import { echoHandler, policy } from '../policy.ts';

const gateway = await serve(policy, echoHandler, { port: 0 });
console.error(`listening on ${gateway.url}`);
