// The README's Bun snippet, as the conformance suite runs it: `bun servers/bun.ts`.
import { guard } from 'portcullis/bun';
import { echoHandler, policy } from '../policy.ts';

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: guard(policy, echoHandler) });
console.error(`listening on ${server.url.origin}`);
