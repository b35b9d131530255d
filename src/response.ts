/**
 * The rules for what leaves the gateway on an allowed answer, in one place: which of the handler's
 * (or origin's) headers never pass, that the policy's headers win over the handler's, that `Vary`
 * merges, and that failure-counting buckets settle with the final status. `engine.handle` applies
 * them to a Response; adapters that write the head themselves (Node) apply `responseHeaderFate`.
 * @module
 */

import type { Decision } from './decision.ts';
import type { EvaluateContext } from './exchange.ts';
import type { HeaderList } from './header-list.ts';
import { leaks } from './stages/headers.ts';

/**
 * What happens to a header of the handler's response (lowercase `name`) beside the decision's
 * `headers`: `drop` when it leaks what the origin runs or is CORS (whose authority is the gateway)
 * or the policy sets it (the policy's wins); `merge` for a `Vary` the policy also sets (the values
 * join); `keep` otherwise.
 */
export function responseHeaderFate(name: string, headers: HeaderList): 'drop' | 'merge' | 'keep' {
  if (leaks(name)) return 'drop';
  if (!headers.has(name)) return 'keep';
  return name === 'vary' ? 'merge' : 'drop';
}

/** The handler's response with the decision's headers, less the ones that must not pass. */
export function finalize(response: Response, decision: Decision): Response {
  let doomed: string[] | undefined;
  for (const name of response.headers.keys()) if (leaks(name)) (doomed ??= []).push(name);
  const out = writable(response);
  for (const name of doomed ?? []) out.headers.delete(name);
  decision.headers.forEach((value, name) => (name === 'vary' ? out.headers.append(name, value) : out.headers.set(name, value)));
  return out;
}

/** Settles the decision's failure buckets with the response's status: in the background where the runtime has waitUntil. */
export async function settle(decision: Decision, status: number, waitUntil: EvaluateContext['waitUntil']): Promise<void> {
  const settling = decision.settle(status);
  if (waitUntil) waitUntil(settling);
  else await settling;
}

/**
 * The response itself when its headers can change: a handler's own Response is changed in place
 * (copying it would turn its body into a stream the server must pump); one from fetch() has
 * immutable headers and is copied.
 */
function writable(response: Response): Response {
  try {
    response.headers.delete('x-powered-by');
    return response;
  } catch {
    return new Response(response.body, response);
  }
}
