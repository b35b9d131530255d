/**
 * Signed requests (`signature()` routes): a signature under a secret the deployment does not hold,
 * and — given the webhook secret — a signature too old to accept and the same webhook delivered
 * twice. Each must be a 401 from authentication; anything that reaches validation or the origin
 * means the signature (or its age, or its id) was not checked. The replay's first delivery is a
 * valid one (the route's sample body) and reaches the origin: it is sent only with --aggressive.
 * @module
 */

import { hexOf } from '../../../src/hex.ts';
import { CHECKS } from '../checks.ts';
import { describeStatus, inconclusive, is2xx, type ProbeContext } from '../context.ts';
import { PROBE_ID, type ProbeRoute } from '../model.ts';
import { sampleBody } from '../samples.ts';
import { refusedByAuthn } from './authn.ts';

type Scheme = 'standard-webhooks' | 'stripe' | 'http-message-signatures';

/** The body of the forged and stale requests: authentication must refuse them before it matters. */
const PROBE_BODY = JSON.stringify({ portcullis_probe: PROBE_ID });

const encoder = new TextEncoder();

async function hmac(key: Uint8Array<ArrayBuffer>, message: string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(message)));
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** The headers of a webhook of `scheme` signed under `secret` at `timestamp` (Unix seconds). */
async function webhookHeaders(scheme: Scheme, secret: string, id: string, timestamp: number, body = PROBE_BODY): Promise<Record<string, string>> {
  if (scheme === 'stripe') {
    return { 'content-type': 'application/json', 'stripe-signature': `t=${timestamp},v1=${hexOf(await hmac(encoder.encode(secret), `${timestamp}.${body}`))}` };
  }
  const key = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (char) => char.charCodeAt(0));
  const signature = base64(await hmac(key, `${id}.${timestamp}.${body}`));
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

/** A signature of the scheme's shape under a random key, with a `keyid` nobody issued. */
async function forgedHeaders(scheme: Scheme, id: string, timestamp: number): Promise<Record<string, string>> {
  const random = base64(crypto.getRandomValues(new Uint8Array(32)));
  if (scheme !== 'http-message-signatures') return webhookHeaders(scheme, `whsec_${random}`, id, timestamp);
  return {
    'content-type': 'application/json',
    'signature-input': `sig1=("@method" "@target-uri");created=${timestamp};keyid="${PROBE_ID}"`,
    signature: `sig1=:${base64(crypto.getRandomValues(new Uint8Array(64)))}:`,
  };
}

export async function probeSignatures(ctx: ProbeContext, webhookSecret: string | undefined, aggressive: boolean) {
  const routes = ctx.model.guarded.filter((route) => route.methods.some(({ method }) => method.kind === 'signature'));
  if (!routes.length) {
    ctx.note('signatures: no route accepts signed requests');
    return;
  }
  let sent = 0;
  const id = () => `msg_${PROBE_ID}_${Date.now().toString(36)}_${sent++}`;
  const request = (route: ProbeRoute, headers: Record<string, string>, body = PROBE_BODY) => ({
    method: route.method,
    target: ctx.model.pathOf(route, ctx.probeParams(route)),
    headers,
    body,
  });
  for (const route of routes) {
    for (const { method } of route.methods.filter(({ method }) => method.kind === 'signature')) {
      const scheme = method.meta?.scheme as Scheme;
      const now = ctx.now();
      await ctx.attempt(CHECKS.signatureForged, route.pattern, request(route, await forgedHeaders(scheme, id(), now)), '401', (response) =>
        refusedByAuthn(response, 'a request signed with a key the deployment does not hold'),
      );
      if (scheme === 'http-message-signatures') continue;
      if (!webhookSecret) {
        ctx.note('signatures: stale and replayed webhooks need the webhook secret (--webhook-secret)');
        continue;
      }
      const tolerance = typeof method.meta?.tolerance === 'number' ? method.meta.tolerance : 300;
      await ctx.attempt(CHECKS.signatureStale, route.pattern, request(route, await webhookHeaders(scheme, webhookSecret, id(), now - tolerance - 60)), '401', (response) =>
        refusedByAuthn(response, `a webhook signed ${tolerance + 60} seconds ago`),
      );
      if (!aggressive) {
        ctx.note('signatures: a replayed webhook is sent only with --aggressive (its first delivery may reach the origin)');
        continue;
      }
      // A delivery that was not served may be retried with the same id: only a served one must stay refused.
      const body = JSON.stringify(sampleBody(route.policy.body));
      const once = request(route, await webhookHeaders(scheme, webhookSecret, id(), now, body), body);
      const first = (await ctx.session.send(once)).response;
      if (!is2xx(first.status)) {
        ctx.settle(CHECKS.signatureReplayed, route.pattern, once, '401', inconclusive(`the first delivery was answered ${first.status}, so a second proves nothing`, describeStatus(first)));
        continue;
      }
      await ctx.attempt(CHECKS.signatureReplayed, route.pattern, once, '401', (response) => refusedByAuthn(response, 'the same signed webhook a second time'));
    }
  }
}
