/**
 * The demo's signed webhook over HTTP (DEMO.md, "Signed and bound requests"): `POST
 * /v1/webhooks/payments` with a Standard Webhooks signature under DEMO_WEBHOOK_SECRET, signed here by
 * the `standardwebhooks` package. The origin's calls are counted through the gateway's forward hook:
 * a refused webhook never reaches it, and a replayed one reaches it once.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let demo: Awaited<ReturnType<typeof startDemo>>;
const originCalls: string[] = [];

beforeAll(async () => {
  demo = await startDemo({
    env: { DEMO_WEBHOOK_SECRET: SECRET },
    port: 0,
    log: () => {},
    onForward: (request) => originCalls.push(`${request.method} ${new URL(request.url).pathname}`),
  });
});
afterAll(() => demo.close());

const webhookCalls = () => originCalls.filter((call) => call === 'POST /v1/webhooks/payments').length;

let ids = 0;
/** A payment webhook as a provider sends it; `overrides` change what is sent after signing. */
function webhook(options: { secret?: string; id?: string; timestamp?: number; body?: string; sentBody?: string; headers?: Record<string, string | null> } = {}) {
  const id = options.id ?? `msg_${Date.now()}_${ids++}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const body = options.body ?? JSON.stringify({ type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { paymentId: `pay_${ids}`, amount: 4200 } });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': new Webhook(options.secret ?? SECRET).sign(id, new Date(timestamp * 1000), body),
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  return fetch(`${demo.url}/v1/webhooks/payments`, { method: 'POST', headers, body: options.sentBody ?? body });
}

async function expectRefused(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(await response.json()).toMatchObject({ code });
}

describe('POST /v1/webhooks/payments', () => {
  it('answers a correctly signed webhook with the origin`s 204, having called it once', async () => {
    const before = webhookCalls();
    const response = await webhook();
    expect(response.status).toBe(204);
    expect(webhookCalls()).toBe(before + 1);
  });

  it('refuses an unsigned webhook with 401 and WWW-Authenticate, without calling the origin', async () => {
    const before = webhookCalls();
    const response = await webhook({ headers: { 'webhook-signature': null } });
    expect(response.headers.get('www-authenticate')).toBe('Signature realm="api"');
    await expectRefused(response, 401, 'authn.required');
    expect(webhookCalls()).toBe(before);
  });

  it.each([
    ['signed with another secret', { secret: `whsec_${randomBytes(32).toString('base64')}` }, 'authn.bad_signature'],
    ['with a body changed after signing', { body: '{"amount":1}', sentBody: '{"amount":1000000}' }, 'authn.bad_signature'],
    ['with a garbled signature', { headers: { 'webhook-signature': 'v1,AAAA' } }, 'authn.bad_signature'],
    ['with a timestamp 6 minutes old', { timestamp: Math.floor(Date.now() / 1000) - 360 }, 'authn.signature_stale'],
    ['with a timestamp 6 minutes ahead', { timestamp: Math.floor(Date.now() / 1000) + 360 }, 'authn.signature_stale'],
  ])('refuses a webhook %s with 401, without calling the origin', async (_, options, code) => {
    const before = webhookCalls();
    await expectRefused(await webhook(options), 401, code);
    expect(webhookCalls()).toBe(before);
  });

  it('refuses the same webhook-id again (as sent, or re-signed), and the origin is called only once', async () => {
    const id = `msg_replay_${Date.now()}`;
    const body = JSON.stringify({ type: 'payment.succeeded', data: { paymentId: 'pay_once', amount: 4200 } });
    const timestamp = Math.floor(Date.now() / 1000);
    const before = webhookCalls();
    expect((await webhook({ id, body, timestamp })).status).toBe(204);
    await expectRefused(await webhook({ id, body, timestamp }), 401, 'authn.signature_replayed');
    await expectRefused(await webhook({ id, body, timestamp: timestamp - 30 }), 401, 'authn.signature_replayed');
    expect(webhookCalls()).toBe(before + 1);
  });

  it('refuses a body that is not JSON, after the signature (415 for another type, 400 for broken JSON)', async () => {
    await expectRefused(await webhook({ body: 'not json' }), 400, 'validate.malformed_body');
    await expectRefused(await webhook({ body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'validate.unsupported_media_type');
  });

  it('refuses a body over the 64 KiB limit with 413, before checking any signature', async () => {
    await expectRefused(await webhook({ body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }) }), 413, 'validate.body_too_large');
  });
});

describe('DEMO_WEBHOOK_SECRET', () => {
  it('is generated (whsec_ + 32 random bytes) when unset', async () => {
    const fresh = await startDemo({ env: {}, port: 0, log: () => {} });
    try {
      expect(fresh.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(fresh.webhookSecret).not.toBe(SECRET);
    } finally {
      await fresh.close();
    }
  });
});
