/**
 * Conformance cases of signed requests: a Standard Webhooks signature (made here by the
 * `standardwebhooks` package, on the real clock the servers check it with) over the body, which
 * every adapter must hand the policy once and the application again; a replay is refused.
 * @module
 */

import { Webhook } from 'standardwebhooks';
import type { Case } from './cases.ts';
import { WEBHOOK_SECRET } from './policy.ts';

const now = Math.floor(Date.now() / 1000);
const problem = (code: string, status: number) => ({ type: `https://portcullis.dev/problems/${code}`, code, status });
const PAYMENT = JSON.stringify({ type: 'payment.succeeded', data: { paymentId: 'pay_1', amount: 4200 } });

/** The headers of a webhook signed over `body` (or `signedBody`, to send another). */
function signed(id: string, options: { secret?: string; timestamp?: number; body?: string } = {}): Record<string, string> {
  const timestamp = options.timestamp ?? now;
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': new Webhook(options.secret ?? WEBHOOK_SECRET).sign(id, new Date(timestamp * 1000), options.body ?? PAYMENT),
  };
}

export const signCases: Case[] = [
  {
    name: 'webhook: a signed body reaches the handler as the sender, read once by the policy and again by the handler',
    request: { method: 'POST', target: '/v1/webhooks', headers: signed('msg_conformance_1'), body: PAYMENT },
    expect: { status: 200, json: { principal: 'payments-provider', body: JSON.parse(PAYMENT) } },
  },
  {
    name: 'webhook: the same webhook-id again is a replay',
    request: { method: 'POST', target: '/v1/webhooks', headers: signed('msg_conformance_1'), body: PAYMENT },
    expect: { status: 401, headers: { 'www-authenticate': /^Signature realm="api"/ }, json: problem('authn.signature_replayed', 401) },
  },
  {
    name: 'webhook: unsigned',
    request: { method: 'POST', target: '/v1/webhooks', headers: { 'content-type': 'application/json' }, body: PAYMENT },
    expect: { status: 401, headers: { 'www-authenticate': 'Signature realm="api"' }, json: problem('authn.required', 401) },
  },
  {
    name: 'webhook: signed with another secret',
    request: { method: 'POST', target: '/v1/webhooks', headers: signed('msg_conformance_2', { secret: 'whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg==' }), body: PAYMENT },
    expect: { status: 401, json: problem('authn.bad_signature', 401) },
  },
  {
    name: 'webhook: a body changed after signing',
    request: { method: 'POST', target: '/v1/webhooks', headers: signed('msg_conformance_3'), body: PAYMENT.replace('4200', '1') },
    expect: { status: 401, json: problem('authn.bad_signature', 401) },
  },
  {
    name: 'webhook: signed 6 minutes ago',
    request: { method: 'POST', target: '/v1/webhooks', headers: signed('msg_conformance_4', { timestamp: now - 360 }), body: PAYMENT },
    expect: { status: 401, json: problem('authn.signature_stale', 401) },
  },
  {
    name: 'webhook: a body over the route`s limit is refused before any signature is checked',
    request: { method: 'POST', target: '/v1/webhooks', headers: signed('msg_conformance_5', { body: 'x'.repeat(2048) }), body: 'x'.repeat(2048) },
    expect: { status: 413, json: problem('validate.body_too_large', 413) },
  },
];
