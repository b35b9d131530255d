/**
 * docs/examples/signed-requests.ts, the example of docs/proof-of-possession.md: lint-clean, and
 * its engine accepts a webhook signed by the `standardwebhooks` package once.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/index.ts';
import { lintPolicy } from '../../tools/lint/index.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
process.env.PAYMENTS_WEBHOOK_SECRET = SECRET;
const { default: policy } = await import('../../docs/examples/signed-requests.ts');

describe('docs/examples/signed-requests.ts', () => {
  it('has no lint finding', () => {
    expect(lintPolicy(policy).map((finding) => `${finding.rule} ${finding.path}`)).toEqual([]);
  });

  it('accepts a signed payment webhook once, and refuses an unsigned transfer', async () => {
    const engine = createEngine(policy, { log: () => {} });
    const body = JSON.stringify({ type: 'payment.succeeded', data: { paymentId: 'pay_1' } });
    const secret = SECRET;
    const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_docs_1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) };
    const signed = () => new Request('https://api.example.com/v1/webhooks/payments', { method: 'POST', headers: { ...headers, 'webhook-signature': new Webhook(secret).sign('msg_docs_1', new Date(Number(headers['webhook-timestamp']) * 1000), body) }, body });
    const first = await engine.evaluate(signed());
    expect(first).toMatchObject({ kind: 'allow', principal: { id: 'payments-provider', kind: 'client' } });
    expect(await engine.evaluate(signed())).toMatchObject({ kind: 'deny', status: 401, reason: 'authn.signature_replayed' });
    const transfer = new Request('https://api.example.com/v1/transfers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount":1,"currency":"EUR"}' });
    expect(await engine.evaluate(transfer)).toMatchObject({ kind: 'deny', status: 401, reason: 'authn.required' });
  });
});
