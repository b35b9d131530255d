// The conformance policy and echo application on the Node adapter: `node --import tsx servers/node.ts`.
import { serve } from 'portcullis/node';
import { echoHandler, policy } from '../policy.ts';

const gateway = await serve(policy, echoHandler, { port: 0 });
console.error(`listening on ${gateway.url}`);
