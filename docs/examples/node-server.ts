import { serve } from 'portcullis/node';
import policy from './policy.ts';

// Your fetch-style handler runs only for requests the policy allows.
const gateway = await serve(policy, (request, decision) => Response.json({ route: decision.route, caller: decision.principal.id, params: decision.params }), {
  port: Number(process.env.PORT ?? 8787),
});
console.log(`listening on ${gateway.url}`);
