// The conformance policy and echo application on the Bun adapter: `bun servers/bun.ts`.
import { guard } from 'portcullis/bun';
import { echoHandler, policy } from '../policy.ts';

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: guard(policy, echoHandler) });
console.error(`listening on ${server.url.origin}`);
