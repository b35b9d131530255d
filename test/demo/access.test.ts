/**
 * The demo's access rules over real HTTP: `GET /v1/admin/events` for admins on ADMIN_CIDRS only
 * (the client address as the trusted loopback proxy names it), and the demo API key's daily quota
 * on `/v1/reports` (API_KEY_QUOTA).
 */
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';
import { generateApiKey } from '../../src/index.ts';
import { clearOfWindowEdge } from '../wait.ts';

let demo: Awaited<ReturnType<typeof startDemo>>;
let apiKey: string;
let alice: string;
let bob: string;

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${demo.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return ((await response.json()) as { token: string }).token;
}

/** A request as the trusted loopback proxy forwards it for `client`, over HTTPS. */
const proxiedFor = (client: string) => ({ 'x-forwarded-for': client, 'x-forwarded-proto': 'https' });
const events = (headers: Record<string, string>) => fetch(`${demo.url}/v1/admin/events`, { headers });

beforeAll(async () => {
  const jwk = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
  apiKey = (await generateApiKey({ prefix: 'pk_demo' })).key;
  demo = await startDemo({
    env: { DEMO_SIGNING_KEY: JSON.stringify(jwk), DEMO_API_KEY: apiKey, API_KEY_QUOTA: '2', ADMIN_CIDRS: '127.0.0.0/8,::1/128,198.51.100.0/24' },
    port: 0,
    log: () => {},
  });
  alice = await login('alice', 'correct horse battery staple');
  bob = await login('bob', 'hunter2 hunter2 hunter2');
});
afterAll(() => demo.close());

describe('GET /v1/admin/events', () => {
  it('answers an admin on a loopback address with the recent security events, and no secret in them', async () => {
    // Something to see: a wrong password and a garbage API key.
    await fetch(`${demo.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"alice","password":"wrong-password-here"}' });
    await fetch(`${demo.url}/v1/reports`, { headers: { 'x-api-key': `${apiKey.slice(0, -6)}zzzzzz` } });
    const response = await events({ authorization: `Bearer ${bob}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { events: { event: string; reason: string; clientIp: string }[] };
    expect(body.events).toContainEqual(expect.objectContaining({ event: 'portcullis.deny', reason: 'authn.key_bad_checksum', clientIp: '127.0.0.1' }));
    const text = JSON.stringify(body);
    for (const secret of [apiKey.slice(8, -7), 'wrong-password-here', bob.split('.')[2]!, alice.split('.')[2]!]) expect(text).not.toContain(secret);
  });

  it('refuses a user who is not an admin (403) and a caller without a token (401)', async () => {
    const denied = await events({ authorization: `Bearer ${alice}` });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { code: string }).code).toBe('authz.denied');
    expect((await events({})).status).toBe(401);
  });

  it('refuses an admin whose address, as the trusted proxy reports it, is outside ADMIN_CIDRS', async () => {
    const outside = await events({ authorization: `Bearer ${bob}`, ...proxiedFor('203.0.113.9') });
    expect(outside.status).toBe(403);
    expect(outside.headers.get('content-type')).toBe('application/problem+json');
    expect(((await outside.json()) as { code: string }).code).toBe('network.ip_denied');
    expect((await events({ authorization: `Bearer ${bob}`, ...proxiedFor('198.51.100.20') })).status).toBe(200);
    expect((await events({ authorization: `Bearer ${bob}`, ...proxiedFor('::ffff:198.51.100.20') })).status).toBe(200);
  });

  it('refuses a caller from outside before authentication: no 401 challenge tells it a token would help', async () => {
    const outside = await events({ ...proxiedFor('203.0.113.9') });
    expect(outside.status).toBe(403);
    expect(outside.headers.get('www-authenticate')).toBeNull();
    expect(((await outside.json()) as { code: string }).code).toBe('network.ip_denied');
  });
});

describe('the demo API key quota on GET /v1/reports', () => {
  it('allows API_KEY_QUOTA calls per UTC day, then 429 quota.exhausted with Retry-After at midnight UTC', async () => {
    await clearOfWindowEdge(86_400_000, 10_000);
    const call = () => fetch(`${demo.url}/v1/reports`, { headers: { 'x-api-key': apiKey } });
    const first = await call();
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toContain('"reports";q=2;w=86400');
    expect(first.headers.get('ratelimit')).toMatch(/"reports";r=1;t=\d+/);
    expect((await call()).status).toBe(200);
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(((await refused.json()) as { code: string }).code).toBe('quota.exhausted');
    const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Math.abs(retryAfter - (midnight - Date.now()) / 1000)).toBeLessThan(5);
    expect(refused.headers.get('ratelimit')).toMatch(/"reports";r=0;t=\d+/);
  });

  it("does not count an admin's token against the key's quota", async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${demo.url}/v1/reports`, { headers: { authorization: `Bearer ${bob}` } })).status).toBe(200);
  });
});
