import { guard } from 'portcullis/deno';
import policy from './policy.ts';

// deno run --allow-net=127.0.0.1 --allow-env=PORT --allow-read deno-server.ts
Deno.serve(
  { hostname: '127.0.0.1', port: Number(Deno.env.get('PORT') ?? 8787), onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`) },
  guard(policy, (request, decision) => Response.json({ route: decision.route, caller: decision.principal.id })),
);
