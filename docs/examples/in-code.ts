import { createEngine, denialResponse } from 'portcullis';
import policy from './policy.ts';

const engine = createEngine(policy); // compiles once

/** The whole round trip: evaluate, call the handler when allowed, set the policy's headers on its answer. */
export function handle(request: Request, clientAddress: string): Promise<Response> {
  return engine.handle(request, { peer: { address: clientAddress } }, (request, decision) => Response.json({ caller: decision.principal.id }));
}

/** The decision alone, for a server that writes its own responses. */
export async function check(request: Request, clientAddress: string): Promise<Response | undefined> {
  const decision = await engine.evaluate(request, { peer: { address: clientAddress } });
  if (decision.kind === 'deny') return denialResponse(decision); // problem+json with every header
  // decision.principal, decision.params, decision.input (validated), decision.request (to forward);
  // decision.headers are the policy's headers for your response. After answering, report the status
  // so that buckets that count only failures can settle:
  await decision.settle(200);
  return undefined;
}
