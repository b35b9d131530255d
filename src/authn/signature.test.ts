/**
 * signature() for webhooks, against signers the project did not write: the `standardwebhooks`
 * package (Standard Webhooks) and node:crypto following Stripe's documented scheme
 * (HMAC-SHA-256 of `t.body`, hex, in `Stripe-Signature: t=…,v1=…`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../errors.ts';
import { memoryStore } from '../stores/memory.ts';
import type { AuthnEnv, AuthnMethod } from './contract.ts';
import { signature } from './signature.ts';

const NOW = Date.UTC(2026, 11, 3, 10, 0, 0);
const NOW_SECONDS = NOW / 1000;
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const OLD_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const STRIPE_SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const BODY = JSON.stringify({ type: 'payment.succeeded', data: { id: 'pay_1', amount: 4200 } });

/** An engine-like environment: a pinned clock and a memory store's replay cache. */
function envAt(now = NOW): AuthnEnv {
  const store = memoryStore();
  return { now: () => now, fetch, firstUse: (key, expiresAt) => store.firstUse!(key, expiresAt, now) };
}

function authenticate(method: AuthnMethod, request: Request, body: string, env = envAt()) {
  return method.authenticate(request, env, { body: new TextEncoder().encode(body) });
}

/** A webhook signed by the standardwebhooks package. */
function standardWebhook(options: { secret?: string; id?: string; timestamp?: number; body?: string; signedBody?: string } = {}) {
  const id = options.id ?? 'msg_2Lh9KRb0pzN4LePd3XiA4dvrcGo';
  const timestamp = options.timestamp ?? NOW_SECONDS;
  const signed = new Webhook(options.secret ?? SECRET).sign(id, new Date(timestamp * 1000), options.signedBody ?? options.body ?? BODY);
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signed };
  return { request: new Request('https://api.example.com/v1/webhooks/payments', { method: 'POST', headers, body: options.body ?? BODY }), body: options.body ?? BODY, headers };
}

describe('signature({ scheme: "standard-webhooks" })', () => {
  const method = signature({ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'payments-provider', roles: ['webhook'] });

  it('accepts a webhook signed by the standardwebhooks package, as the sender (a client principal)', async () => {
    const { request, body } = standardWebhook();
    const outcome = await authenticate(method, request, body);
    expect(outcome).toMatchObject({ kind: 'success', principal: { id: 'payments-provider', kind: 'client', roles: ['webhook'] } });
    if (outcome.kind === 'success') expect(outcome.principal.claims).toMatchObject({ webhookId: 'msg_2Lh9KRb0pzN4LePd3XiA4dvrcGo', timestamp: NOW_SECONDS });
  });

  it('accepts either secret while the sender rotates, and a header listing several signatures', async () => {
    const rotating = signature({ scheme: 'standard-webhooks', secrets: [SECRET, OLD_SECRET], principal: 'payments-provider' });
    const underOld = standardWebhook({ secret: OLD_SECRET, id: 'msg_old' });
    expect((await authenticate(rotating, underOld.request, underOld.body)).kind).toBe('success');
    // A sender in the middle of its rotation signs with both; the header lists both.
    const both = standardWebhook({ id: 'msg_both' });
    const second = new Webhook(OLD_SECRET).sign('msg_both', new Date(NOW), BODY);
    const request = new Request(both.request.url, { method: 'POST', headers: { ...both.headers, 'webhook-signature': `${second} ${both.headers['webhook-signature']}` }, body: BODY });
    expect((await authenticate(method, request, BODY)).kind).toBe('success');
  });

  it('passes an unsigned request on as absent (the route`s other methods, else 401 authn.required)', async () => {
    const request = new Request('https://api.example.com/v1/webhooks/payments', { method: 'POST', body: BODY });
    expect(await authenticate(method, request, BODY)).toEqual({ kind: 'absent' });
  });

  it.each([
    ['signed with another secret', standardWebhook({ secret: `whsec_${randomBytes(32).toString('base64')}` }), 'authn.bad_signature'],
    ['a body altered after signing', standardWebhook({ signedBody: BODY, body: BODY.replace('4200', '1') }), 'authn.bad_signature'],
    ['a timestamp 5 minutes and 1 second old', standardWebhook({ timestamp: NOW_SECONDS - 301 }), 'authn.signature_stale'],
    ['a timestamp 5 minutes and 1 second ahead', standardWebhook({ timestamp: NOW_SECONDS + 301 }), 'authn.signature_stale'],
  ])('refuses %s', async (_, { request, body }, reason) => {
    expect(await authenticate(method, request, body)).toEqual({ kind: 'failure', reason });
  });

  it('accepts a timestamp exactly at the tolerance', async () => {
    const { request, body } = standardWebhook({ timestamp: NOW_SECONDS - 300 });
    expect((await authenticate(method, request, body)).kind).toBe('success');
  });

  it('refuses a signature moved to another id or timestamp (both are signed)', async () => {
    const { headers } = standardWebhook();
    for (const changed of [{ 'webhook-id': 'msg_other' }, { 'webhook-timestamp': String(NOW_SECONDS - 1) }]) {
      const request = new Request('https://api.example.com/v1/webhooks/payments', { method: 'POST', headers: { ...headers, ...changed }, body: BODY });
      expect(await authenticate(method, request, BODY)).toEqual({ kind: 'failure', reason: 'authn.bad_signature' });
    }
  });

  it.each([
    ['no webhook-id', { 'webhook-id': '' }],
    ['a timestamp that is not seconds', { 'webhook-timestamp': '2026-12-03T10:00:00Z' }],
  ])('refuses a signed request with %s as malformed', async (_, changed) => {
    const { headers } = standardWebhook();
    const request = new Request('https://api.example.com/v1/webhooks/payments', { method: 'POST', headers: { ...headers, ...changed }, body: BODY });
    expect(await authenticate(method, request, BODY)).toEqual({ kind: 'failure', reason: 'authn.signature_malformed' });
  });

  it('refuses the same webhook-id a second time, even re-signed with a new timestamp', async () => {
    const env = envAt();
    const first = standardWebhook({ id: 'msg_once' });
    expect((await authenticate(method, first.request, first.body, env)).kind).toBe('success');
    const again = standardWebhook({ id: 'msg_once' });
    expect(await authenticate(method, again.request, again.body, env)).toEqual({ kind: 'failure', reason: 'authn.signature_replayed' });
    const resigned = standardWebhook({ id: 'msg_once', timestamp: NOW_SECONDS - 10 });
    expect(await authenticate(method, resigned.request, resigned.body, env)).toEqual({ kind: 'failure', reason: 'authn.signature_replayed' });
  });

  it('fails closed when the replay cache is missing or fails', async () => {
    const { request, body } = standardWebhook();
    const bytes = new TextEncoder().encode(body);
    expect(await method.authenticate(request, { now: () => NOW, fetch }, { body: bytes })).toEqual({ kind: 'failure', reason: 'authn.unavailable' });
    const failing: AuthnEnv = { now: () => NOW, fetch, firstUse: () => Promise.reject(new Error('store down')) };
    expect(await method.authenticate(request, failing, { body: bytes })).toEqual({ kind: 'failure', reason: 'authn.unavailable' });
  });

  it('with replay: "allow", accepts the same webhook twice', async () => {
    const lenient = signature({ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'p', replay: 'allow' });
    const env = envAt();
    for (let i = 0; i < 2; i++) {
      const { request, body } = standardWebhook({ id: 'msg_twice' });
      expect((await authenticate(lenient, request, body, env)).kind).toBe('success');
    }
    expect(lenient.usesReplayCache).toBe(false);
  });

  it('refuses a signed body it was not given (fails closed)', async () => {
    const { request } = standardWebhook();
    expect(await method.authenticate(request, envAt())).toEqual({ kind: 'failure', reason: 'authn.unavailable' });
  });
});

/** A Stripe-style signature, made as Stripe documents it: HMAC-SHA-256 of `${t}.${body}`, hex. */
function stripeWebhook(options: { secret?: string; timestamp?: number; body?: string; signedBody?: string } = {}) {
  const t = options.timestamp ?? NOW_SECONDS;
  const v1 = createHmac('sha256', options.secret ?? STRIPE_SECRET).update(`${t}.${options.signedBody ?? options.body ?? BODY}`).digest('hex');
  const headers = { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${v1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39` };
  return { request: new Request('https://api.example.com/v1/webhooks/stripe', { method: 'POST', headers, body: options.body ?? BODY }), body: options.body ?? BODY };
}

describe('signature({ scheme: "stripe" })', () => {
  const method = signature({ scheme: 'stripe', secrets: [STRIPE_SECRET], principal: 'stripe' });

  it('accepts a Stripe-Signature made per Stripe`s scheme', async () => {
    const { request, body } = stripeWebhook();
    expect(await authenticate(method, request, body)).toMatchObject({ kind: 'success', principal: { id: 'stripe', kind: 'client' } });
  });

  it.each([
    ['another secret', stripeWebhook({ secret: `whsec_${randomBytes(24).toString('hex')}` }), 'authn.bad_signature'],
    ['an altered body', stripeWebhook({ signedBody: BODY, body: `${BODY} ` }), 'authn.bad_signature'],
    ['a stale timestamp', stripeWebhook({ timestamp: NOW_SECONDS - 301 }), 'authn.signature_stale'],
  ])('refuses %s', async (_, { request, body }, reason) => {
    expect(await authenticate(method, request, body)).toEqual({ kind: 'failure', reason });
  });

  it('refuses the same signed request twice', async () => {
    const env = envAt();
    const first = stripeWebhook();
    expect((await authenticate(method, first.request, first.body, env)).kind).toBe('success');
    const replay = stripeWebhook();
    expect(await authenticate(method, replay.request, replay.body, env)).toEqual({ kind: 'failure', reason: 'authn.signature_replayed' });
  });

  it('refuses a header with two timestamps', async () => {
    const request = new Request('https://api.example.com/', { method: 'POST', headers: { 'stripe-signature': `t=${NOW_SECONDS},t=${NOW_SECONDS},v1=00` }, body: BODY });
    expect(await authenticate(method, request, BODY)).toEqual({ kind: 'failure', reason: 'authn.signature_malformed' });
  });
});

describe('signature(): policy mistakes fail at definition, naming the option', () => {
  it.each([
    [{ scheme: 'standard-webhooks', secrets: ['not-a-secret'], principal: 'p' }, 'signature().secrets[0]'],
    [{ scheme: 'standard-webhooks', secrets: [`whsec_${randomBytes(8).toString('base64')}`], principal: 'p' }, 'signature().secrets[0]'],
    [{ scheme: 'standard-webhooks', secrets: [], principal: 'p' }, 'signature().secrets'],
    [{ scheme: 'standard-webhooks', secrets: [SECRET] }, 'signature().principal'],
    [{ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'p', tolerance: 0 }, 'signature().tolerance'],
    [{ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'p', tolerence: 60 }, 'signature().tolerence'],
    [{ scheme: 'stripe', secrets: ['short'], principal: 'p' }, 'signature().secrets[0]'],
    [{ scheme: 'http-message-signatures', keys: {}, components: ['@target-uri'] }, 'signature().components'],
    [{ scheme: 'http-message-signatures', keys: {}, components: ['@method', '@path'] }, 'signature().components'],
    [{ scheme: 'http-message-signatures', keys: {}, jwksUrl: 'https://keys.example.com/jwks.json' }, 'signature().keys'],
    [{ scheme: 'http-message-signatures', jwksUrl: 'http://keys.example.com/jwks.json', algorithms: ['ed25519'] }, 'signature().jwksUrl'],
    [{ scheme: 'http-message-signatures', jwksUrl: 'https://keys.example.com/jwks.json', algorithms: ['hmac-sha256'] }, 'signature().algorithms'],
    [{ scheme: 'http-message-signatures', keys: { k: { algorithm: 'hmac-sha256', key: { kty: 'oct', k: 'c2hvcnQ' } } } }, 'signature().keys["k"].key'],
    [{ scheme: 'http-message-signatures', keys: {}, digest: ['md5'] }, 'signature().digest'],
    [{ scheme: 'webhooks', secrets: [SECRET], principal: 'p' }, 'signature().scheme'],
  ])('%j → %s', (options, path) => {
    try {
      signature(options as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      expect((error as PolicyError).path).toBe(path);
    }
  });
});
