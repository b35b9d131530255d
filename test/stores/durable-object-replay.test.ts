/**
 * A fleet of Cloudflare gateways on workerd (Miniflare): two Workers, each its own isolate, whose
 * replay cache is one Durable Object namespace (RateLimitObject bound to both). A signed webhook or
 * a DPoP proof one gateway accepted is refused by the other. The same two Workers on the default
 * memory store show why that takes a shared store: each isolate remembers only its own.
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { Miniflare, type WorkerOptions } from 'miniflare';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleWorker } from '../cloudflare/workerd.ts';
import { startOrigin, type RunningOrigin } from '../cloudflare/origin.ts';
import { es256, ISSUER, jwksOf, signToken } from '../fixtures/keys.ts';

const IDENTITY_KEY = 'durable-object-replay-identity-key-0123456789';
const WEBHOOK_SECRET = `whsec_${btoa('a webhook secret of thirty-two bytes!')}`;
const FLEETS = { 'durable-object': ['do-a', 'do-b'], memory: ['memory-a', 'memory-b'] } as const;

let origin: RunningOrigin;
let mf: Miniflare;
let client: KeyPair;
beforeAll(async () => {
  client = await generateKeyPair('ES256');
  origin = await startOrigin(IDENTITY_KEY);
  const script = await bundleWorker('test/stores/durable-object-replay-worker.ts');
  const bindings = { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY, JWKS: JSON.stringify(jwksOf(es256)), ISSUER, WEBHOOK_SECRET };
  const worker = (name: string, extra: Partial<WorkerOptions>): WorkerOptions => ({ name, modules: true, script, compatibilityDate: '2025-07-18', bindings, ...extra });
  mf = new Miniflare({
    workers: [
      // The first Worker defines the Durable Object class; the other binds the same namespace.
      worker('do-a', { durableObjects: { RATE_LIMITS: 'RateLimitObject' } }),
      worker('do-b', { durableObjects: { RATE_LIMITS: { className: 'RateLimitObject', scriptName: 'do-a' } } }),
      worker('memory-a', { bindings: { ...bindings, STORE: 'memory' } }),
      worker('memory-b', { bindings: { ...bindings, STORE: 'memory' } }),
    ],
  });
  await mf.ready;
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
  await origin?.close();
});

/** A request to the gateway `name`, as Cloudflare's edge passes it on: over HTTPS, with CF-Connecting-IP. */
async function send(name: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const response = await (await mf.getWorker(name)).fetch(`https://api.example.com${path}`, {
    method: init.method ?? 'GET',
    headers: { 'cf-connecting-ip': '203.0.113.7', ...init.headers },
    body: init.body,
  });
  const text = await response.text();
  return { status: response.status, code: response.status >= 400 ? ((JSON.parse(text) as { code?: string }).code ?? text) : undefined };
}

/** A webhook signed by the `standardwebhooks` package, with its own id. */
function webhook(id: string) {
  const body = JSON.stringify({ type: 'payment.succeeded', id });
  const signed = new Webhook(WEBHOOK_SECRET).sign(id, new Date(), body);
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': signed };
  return { method: 'POST', headers, body };
}

/** A DPoP-bound token and one proof for GET /v1/me, made by panva's `dpop` client. */
async function dpopRequest() {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const token = await signToken(es256, { iat: nowSeconds, exp: nowSeconds + 600, cnf: { jkt: await calculateThumbprint(client.publicKey) } });
  const proof = await generateProof(client, 'https://api.example.com/v1/me', 'GET', undefined, token);
  return { headers: { authorization: `DPoP ${token}`, dpop: proof } };
}

describe('a fleet of gateways on one Durable Object namespace', () => {
  const [a, b] = FLEETS['durable-object'];

  it('refuses at one gateway a webhook the other accepted', async () => {
    const delivery = webhook('msg_fleet_1');
    expect(await send(a, '/v1/webhooks', delivery)).toEqual({ status: 200, code: undefined });
    expect(await send(b, '/v1/webhooks', delivery)).toEqual({ status: 401, code: 'authn.signature_replayed' });
    expect(await send(a, '/v1/webhooks', delivery)).toEqual({ status: 401, code: 'authn.signature_replayed' });
  });

  it('refuses at one gateway a DPoP proof the other accepted', async () => {
    const request = await dpopRequest();
    expect(await send(a, '/v1/me', request)).toEqual({ status: 200, code: undefined });
    expect(await send(b, '/v1/me', request)).toEqual({ status: 401, code: 'authn.dpop_replayed' });
  });

  it('admits exactly one of 20 concurrent deliveries of one webhook spread over both gateways', async () => {
    const delivery = webhook('msg_fleet_race');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 ? a : b, '/v1/webhooks', delivery)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    expect(answers.filter((answer) => answer.code === 'authn.signature_replayed')).toHaveLength(19);
  });
});

describe('the same fleet on the default memory store', () => {
  const [a, b] = FLEETS.memory;

  it('refuses a replay only at the gateway that saw it: each isolate has a cache of its own', async () => {
    const request = await dpopRequest();
    expect((await send(a, '/v1/me', request)).status).toBe(200);
    expect(await send(a, '/v1/me', request)).toEqual({ status: 401, code: 'authn.dpop_replayed' });
    expect((await send(b, '/v1/me', request)).status).toBe(200);
  });
});
