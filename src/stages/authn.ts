/**
 * Authentication: the route's accepted methods, tried in order.
 * @module
 */

import { ANONYMOUS, type AuthnEnv, type AuthnMethod, type Principal } from '../authn/contract.ts';
import { principalLabel, refuse, type Stage, type StageEnv } from '../exchange.ts';
import type { Policy } from '../policy/types.ts';

export { ANONYMOUS, isAuthnMethod, type AuthnEnv, type AuthnMethod, type AuthnOutcome, type FetchLike, type Principal } from '../authn/contract.ts';

export type AuthnResult = { ok: true; principal: Principal } | { ok: false; reason: string; challenge: string };

/** The RFC 6750 / RFC 9470 `error` of a failure reason, for `WWW-Authenticate`. */
function challengeError(reason: string): string | undefined {
  if (reason === 'authn.invalid_request') return 'invalid_request';
  if (reason === 'authn.mfa_required') return 'insufficient_user_authentication';
  if (reason === 'authn.keys_unavailable' || reason === 'authn.unavailable') return undefined;
  return 'invalid_token';
}

/** Compiles a route's `authn` list into one function. */
export function compileAuthn(accepted: 'anonymous' | readonly string[], methods: Readonly<Record<string, AuthnMethod>>) {
  if (accepted === 'anonymous') return async (): Promise<AuthnResult> => ({ ok: true, principal: ANONYMOUS });
  // `['user', 'anonymous']`: a token is optional, but a bad token is still refused.
  const optional = accepted.includes('anonymous');
  const chain = accepted.filter((name) => name !== 'anonymous').map((name) => ({ name, method: methods[name]! }));
  const plain = [...new Set(chain.map(({ method }) => method.challenge))].join(', ');
  // Methods return the same principal object for a cached credential; so does this route.
  const named = new WeakMap<object, Principal>();
  return async function authenticate(request: Request, env: AuthnEnv): Promise<AuthnResult> {
    let failure: { reason: string; method: AuthnMethod } | undefined;
    for (const { name, method } of chain) {
      const outcome = await method.authenticate(request, env);
      if (outcome.kind === 'success') {
        let principal = named.get(outcome.principal);
        if (principal?.method !== name) {
          const credential = method.credentialHeader === undefined ? {} : { credentialHeader: method.credentialHeader };
          principal = Object.freeze({ ...outcome.principal, method: name, ...credential });
          named.set(outcome.principal, principal);
        }
        return { ok: true, principal };
      }
      // A wrong credential of one kind does not stop a right credential of another kind, but it
      // decides the reason when nothing succeeds.
      if (outcome.kind === 'failure') failure ??= { reason: outcome.reason, method };
    }
    if (!failure) return optional ? { ok: true, principal: ANONYMOUS } : { ok: false, reason: 'authn.required', challenge: plain };
    const error = challengeError(failure.reason);
    const challenge = [
      ...new Set(chain.map(({ method }) => (method === failure.method && error ? `${method.challenge}, error="${error}"` : method.challenge))),
    ].join(', ');
    return { ok: false, reason: failure.reason, challenge };
  };
}

/** The authentication stage: the matched route's methods; a failure answers 401 with the challenge. */
export function authnStage(policy: Policy, env: Pick<StageEnv, 'authn'>): Stage {
  const methods = policy.authn ?? {};
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, compileAuthn(route.authn, methods)]));
  return async function authenticate(x) {
    const result = await byRoute.get(x.route!)!(x.request, env.authn);
    if (!result.ok) {
      x.headers.set('www-authenticate', result.challenge);
      return refuse('authn', result.reason);
    }
    x.principal = result.principal;
    x.trace.push({ stage: 'authn', outcome: 'pass', detail: principalLabel(x) });
    return undefined;
  };
}
