/**
 * Authentication: the route's accepted methods, tried in order.
 * @module
 */

import { withError } from '../authn/challenge.ts';
import { compileCertificateSource, type CertificateLookup, type CertificateSource } from '../authn/certificate-source.ts';
import { ANONYMOUS, type AuthnContext, type AuthnEnv, type AuthnMethod, type AuthnOutcome, type Principal } from '../authn/contract.ts';
import { readLimited } from '../body.ts';
import { principalLabel, refuse, type Exchange, type Stage, type StageEnv, type StageResult } from '../exchange.ts';
import { hiddenSlot } from '../hidden-slot.ts';
import type { Policy } from '../policy/types.ts';
import { targetHref } from '../target.ts';
import { routeBodyLimit } from './validate.ts';

export { ANONYMOUS, isAuthnMethod, type AuthnContext, type AuthnEnv, type AuthnMethod, type AuthnOutcome, type FetchLike, type Principal } from '../authn/contract.ts';

/**
 * `headers`: what the method that decided asks to put on the answer (a `DPoP-Nonce`). `request`:
 * the request the later stages and the origin get, when authentication read its body (a
 * signature covers it); the body is in it again, read once from the client. A refusal names the
 * method (its name in `policy.authn`) whose credential failed; none when no credential came.
 */
export type AuthnResult = (
  | { ok: true; principal: Principal; headers?: Readonly<Record<string, string>>; release?: () => Promise<void> }
  | { ok: false; reason: string; challenge: string; headers?: Readonly<Record<string, string>>; method?: string }
) & { request?: Request };

/**
 * Reads the body for methods that check it (request signatures), stopping at `maxBytes`: a
 * signature is checked over every byte the origin will get, and only those.
 */
async function readBodyOnce(request: Request, maxBytes: number): Promise<{ ok: true; body: Uint8Array; request: Request } | { ok: false; reason: string }> {
  if (request.body === null) return { ok: true, body: new Uint8Array(0), request };
  const bytes = await readLimited(request, maxBytes);
  if (bytes === undefined) return { ok: false, reason: 'validate.body_too_large' };
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: bytes.reason };
  const headers = new Headers(request.headers);
  // The body is now a known length: framing headers of the original no longer describe it.
  headers.delete('transfer-encoding');
  const body = bytes.byteLength ? (bytes as Uint8Array<ArrayBuffer>) : null;
  return { ok: true, body: bytes, request: new Request(request.url, { method: request.method, headers, body, signal: request.signal }) };
}


/**
 * The principal the stage named after a method's principal: methods return the same principal
 * object for a cached credential, and so does the stage. (A WeakMap entry per new token cost a new
 * ES256 token 7–14 µs of CPU.)
 */
const named = hiddenSlot<Principal>('portcullis.named');

/** Compiles a route's `authn` list into one function. */
export function compileAuthn(accepted: 'anonymous' | readonly string[], methods: Readonly<Record<string, AuthnMethod>>, maxBodyBytes = Infinity) {
  if (accepted === 'anonymous') return (): AuthnResult => ({ ok: true, principal: ANONYMOUS });
  // `['user', 'anonymous']`: a token is optional, but a bad token is still refused.
  const optional = accepted.includes('anonymous');
  const chain = accepted.filter((name) => name !== 'anonymous').map((name) => ({ name, method: methods[name]! }));
  const plain = [...new Set(chain.map(({ method }) => method.challenge))].join(', ');
  const readsBody = chain.some(({ method }) => method.readsBody);
  /** The result of `name`'s success: one principal object per credential the method cached. */
  function succeeded(name: string, method: AuthnMethod, outcome: Extract<AuthnOutcome, { kind: 'success' }>, reread: Request | undefined): AuthnResult {
    let principal = named.get(outcome.principal);
    if (principal?.method !== name) {
      const credential = method.credentialHeader === undefined ? {} : { credentialHeader: method.credentialHeader };
      principal = Object.freeze({ ...outcome.principal, method: name, ...credential });
      named.set(outcome.principal, principal);
    }
    const extras = { ...(outcome.headers && { headers: outcome.headers }), ...(outcome.release && { release: outcome.release }), ...(reread && { request: reread }) };
    return { ok: true, principal, ...extras };
  }

  return function authenticate(request: Request, env: AuthnEnv, context: AuthnContext = {}): AuthnResult | Promise<AuthnResult> {
    if (readsBody || chain.length === 0) return authenticateInTurn(request, env, context, undefined);
    // The common case, a first method that knows the credential already (a cached token), is
    // decided at once; anything else goes on in turn with this first outcome.
    const { name, method } = chain[0]!;
    const first = method.authenticate(request, env, context);
    if (!(first instanceof Promise) && first.kind === 'success') return succeeded(name, method, first, undefined);
    return authenticateInTurn(request, env, context, first);
  };

  /** The methods in turn; `first` is the first method's outcome when it was asked already. */
  async function authenticateInTurn(request: Request, env: AuthnEnv, context: AuthnContext, first: AuthnOutcome | Promise<AuthnOutcome> | undefined): Promise<AuthnResult> {
    let failure: { reason: string; method: AuthnMethod; name: string; challenge?: string; headers?: Readonly<Record<string, string>> } | undefined;
    let reread: Request | undefined;
    if (readsBody) {
      const read = await readBodyOnce(request, maxBodyBytes);
      if (!read.ok) return { ok: false, reason: read.reason, challenge: plain };
      context.body = read.body;
      reread = read.request;
    }
    for (const [index, { name, method }] of chain.entries()) {
      const outcome = index === 0 && first !== undefined ? await first : await method.authenticate(reread ?? request, env, context);
      if (outcome.kind === 'success') return succeeded(name, method, outcome, reread);
      // A wrong credential of one kind does not stop a right credential of another kind, but it
      // decides the reason when nothing succeeds.
      if (outcome.kind === 'failure') failure ??= { reason: outcome.reason, method, name, challenge: outcome.challenge, headers: outcome.headers };
    }
    if (!failure) {
      const outcome: AuthnResult = optional ? { ok: true, principal: ANONYMOUS } : { ok: false, reason: 'authn.required', challenge: plain };
      return reread ? { ...outcome, request: reread } : outcome;
    }
    const { reason, headers, method: failed, challenge: own } = failure;
    const challenge = [...new Set(chain.map(({ method }) => (method === failed ? (own ?? withError(method.challenge, reason)) : method.challenge)))].join(', ');
    return { ok: false, reason, challenge, method: failure.name, ...(headers && { headers }), ...(reread && { request: reread }) };
  }
}

/** The authentication stage: the matched route's methods; a failure answers 401 with the challenge. */
export function authnStage(policy: Policy, env: Pick<StageEnv, 'authn' | 'observer'>): Stage {
  const methods = policy.authn ?? {};
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, compileAuthn(route.authn, methods, routeBodyLimit(route, policy.limits))]));
  const certificateOf = compileCertificateSource(policy.clientCertificate);
  // A route's methods that know the answer at once (anonymous, a cached token) decide without a promise.
  return function authenticate(x) {
    const result = byRoute.get(x.route!)!(x.request, env.authn, contextOf(x, certificateOf));
    return result instanceof Promise ? result.then((settled) => decided(x, settled)) : decided(x, result);
  };

  function decided(x: Exchange, result: AuthnResult): StageResult {
    if (result.headers) for (const [name, value] of Object.entries(result.headers)) x.headers.set(name, value);
    // A method that checked the body (a signature) read it; the later stages get it from here.
    if (result.request) x.request = result.request;
    if (!result.ok) {
      env.observer?.authnFailed?.(result.method, result.reason);
      x.headers.set('www-authenticate', result.challenge);
      return refuse('authn', result.reason);
    }
    x.principal = result.principal;
    x.release = result.release;
    x.trace.push({ stage: 'authn', outcome: 'pass', detail: principalLabel(x) });
    return undefined;
  }
}

/** The connection as the methods see it: its client certificate, looked up when one asks, once. */
function contextOf(x: Exchange, certificateOf: CertificateSource): AuthnContext {
  let found: Promise<CertificateLookup> | undefined;
  return {
    // Methods that bind a credential to the request (DPoP) check it against the URL the client used.
    target: { method: x.method, url: targetHref(x.client.scheme, x.target!) },
    clientCertificate: () => (found ??= certificateOf(x.request.headers, { certificate: x.context.peer?.certificate, trustedPeer: x.client.trustedPeer === true })),
  };
}
