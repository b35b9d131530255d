/**
 * Authentication: the route's accepted methods, tried in order.
 * @module
 */

import { withError } from '../authn/challenge.ts';
import { ANONYMOUS, type AuthnEnv, type AuthnMethod, type AuthnTarget, type Principal } from '../authn/contract.ts';
import { principalLabel, refuse, type Stage, type StageEnv } from '../exchange.ts';
import type { Policy } from '../policy/types.ts';
import { targetHref } from '../target.ts';

export { ANONYMOUS, isAuthnMethod, type AuthnEnv, type AuthnMethod, type AuthnOutcome, type FetchLike, type Principal } from '../authn/contract.ts';

/** `headers`: what the method that decided asks to put on the answer (a `DPoP-Nonce`). */
export type AuthnResult =
  | { ok: true; principal: Principal; headers?: Readonly<Record<string, string>> }
  | { ok: false; reason: string; challenge: string; headers?: Readonly<Record<string, string>> };

/** Compiles a route's `authn` list into one function. */
export function compileAuthn(accepted: 'anonymous' | readonly string[], methods: Readonly<Record<string, AuthnMethod>>) {
  if (accepted === 'anonymous') return async (): Promise<AuthnResult> => ({ ok: true, principal: ANONYMOUS });
  // `['user', 'anonymous']`: a token is optional, but a bad token is still refused.
  const optional = accepted.includes('anonymous');
  const chain = accepted.filter((name) => name !== 'anonymous').map((name) => ({ name, method: methods[name]! }));
  const plain = [...new Set(chain.map(({ method }) => method.challenge))].join(', ');
  // Methods return the same principal object for a cached credential; so does this route.
  const named = new WeakMap<object, Principal>();
  return async function authenticate(request: Request, env: AuthnEnv, target?: AuthnTarget): Promise<AuthnResult> {
    let failure: { reason: string; method: AuthnMethod; challenge?: string; headers?: Readonly<Record<string, string>> } | undefined;
    for (const { name, method } of chain) {
      const outcome = await method.authenticate(request, env, target);
      if (outcome.kind === 'success') {
        let principal = named.get(outcome.principal);
        if (principal?.method !== name) {
          const credential = method.credentialHeader === undefined ? {} : { credentialHeader: method.credentialHeader };
          principal = Object.freeze({ ...outcome.principal, method: name, ...credential });
          named.set(outcome.principal, principal);
        }
        return outcome.headers ? { ok: true, principal, headers: outcome.headers } : { ok: true, principal };
      }
      // A wrong credential of one kind does not stop a right credential of another kind, but it
      // decides the reason when nothing succeeds.
      if (outcome.kind === 'failure') failure ??= { reason: outcome.reason, method, challenge: outcome.challenge, headers: outcome.headers };
    }
    if (!failure) return optional ? { ok: true, principal: ANONYMOUS } : { ok: false, reason: 'authn.required', challenge: plain };
    const { reason, headers, method: failed, challenge: own } = failure;
    const challenge = [...new Set(chain.map(({ method }) => (method === failed ? (own ?? withError(method.challenge, reason)) : method.challenge)))].join(', ');
    return headers ? { ok: false, reason, challenge, headers } : { ok: false, reason, challenge };
  };
}

/** The authentication stage: the matched route's methods; a failure answers 401 with the challenge. */
export function authnStage(policy: Policy, env: Pick<StageEnv, 'authn'>): Stage {
  const methods = policy.authn ?? {};
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, compileAuthn(route.authn, methods)]));
  return async function authenticate(x) {
    // Methods that bind a credential to the request (DPoP) check it against the URL the client used.
    const result = await byRoute.get(x.route!)!(x.request, env.authn, { method: x.method, url: targetHref(x.client.scheme, x.target!) });
    if (result.headers) for (const [name, value] of Object.entries(result.headers)) x.headers.set(name, value);
    if (!result.ok) {
      x.headers.set('www-authenticate', result.challenge);
      return refuse('authn', result.reason);
    }
    x.principal = result.principal;
    x.trace.push({ stage: 'authn', outcome: 'pass', detail: principalLabel(x) });
    return undefined;
  };
}
