/**
 * signature() in the engine: the body is read once within the route's limit and handed on; a
 * webhook id counts as used only once its request was served, so a sender's retry after a failed
 * delivery goes through and a replay after a served one does not.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine.ts';
import { definePolicy } from '../policy/define.ts';
import { memoryStore } from '../stores/memory.ts';
import type { RateLimitStore } from '../stores/types.ts';
import { signature } from './signature.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const policy = definePolicy({
  transport: { requireHttps: false },
  authn: { payments: signature({ scheme: 'standard-webhooks', secrets: [SECRET], principal: 'payments' }) },
  routes: { 'POST /hooks': { authn: ['payments'], allow: 'authenticated', contentTypes: ['application/json'], maxBodyBytes: 1024 } },
});

function webhook(id: string, body = '{"type":"payment.succeeded"}') {
  const now = new Date();
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(SECRET).sign(id, now, body) };
  return new Request('http://127.0.0.1/hooks', { method: 'POST', headers, body });
}

const send = (engine: ReturnType<typeof createEngine>, request: Request, status = 204) =>
  engine.handle(request, { peer: { address: '127.0.0.1', scheme: 'http' } }, async (forwarded) => {
    await forwarded.text();
    return new Response(null, { status });
  });

describe('signature() in the engine', () => {
  it('hands the handler the body it checked, byte for byte', async () => {
    const engine = createEngine(policy, { log: () => {} });
    const body = '{"type":"payment.succeeded","data":{"amount":4200}}';
    let received: string | undefined;
    const response = await engine.handle(webhook('msg_body', body), { peer: { address: '127.0.0.1', scheme: 'http' } }, async (forwarded) => {
      received = await forwarded.text();
      return new Response(null, { status: 204 });
    });
    expect(response.status).toBe(204);
    expect(received).toBe(body);
  });

  it('lets a webhook through again after the origin failed it, and refuses it once it was served', async () => {
    const engine = createEngine(policy, { log: () => {} });
    // The origin's 503 reaches the sender as the gateway's own 502 (origin 5xx bodies never pass).
    expect((await send(engine, webhook('msg_retry'), 503)).status).toBe(502);
    expect((await send(engine, webhook('msg_retry'), 204)).status).toBe(204);
    const replay = await send(engine, webhook('msg_retry'), 204);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ code: 'authn.signature_replayed' });
  });

  it('refuses a body over the route`s limit with 413 before the signature is checked', async () => {
    const engine = createEngine(policy, { log: () => {} });
    const response = await send(engine, webhook('msg_big', JSON.stringify({ pad: 'x'.repeat(2000) })));
    expect(response.status).toBe(413);
  });

  it('refuses at createEngine a store that cannot remember ids', () => {
    const { firstUse: _, ...forgetful } = memoryStore();
    expect(() => createEngine(policy, { rateLimitStore: forgetful as RateLimitStore })).toThrow(/authn\.payments refuses replays/);
  });
});
