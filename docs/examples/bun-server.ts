import { guard } from 'portcullis/bun';
import policy from './policy.ts';

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT ?? 8787),
  fetch: guard(policy, (request, decision) => Response.json({ route: decision.route, caller: decision.principal.id })),
});
console.log(`listening on ${server.url.origin}`);
