/**
 * `gateway()` as plain code (Node runs it: it needs only Web APIs): option errors at construction,
 * origin selection by path prefix, compile once per env, fail closed on a bad policy or binding.
 * test/cloudflare/gateway.test.ts runs it on workerd.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { definePolicy, type Policy, type SecurityEvent } from '../src/index.ts';
import { startOrigin, type RunningOrigin } from '../test/cloudflare/origin.ts';
import { gateway, type GatewayOptions } from './cloudflare.ts';

const KEY = 'unit-identity-key-0123456789abcdefghij';
const CLIENT = '198.51.100.20';

const policy = definePolicy({
  clientIp: { trustedProxies: ['cloudflare'] },
  routes: {
    'GET /v1/things': { authn: 'anonymous' },
    'GET /v1/billing/invoices': { authn: 'anonymous' },
    'GET /v1/billingx': { authn: 'anonymous' },
    'GET /v2/things': { authn: 'anonymous' },
  },
});

let main: RunningOrigin;
let billing: RunningOrigin;
beforeAll(async () => {
  main = await startOrigin(KEY);
  billing = await startOrigin(KEY);
});
afterAll(async () => {
  await main.close();
  await billing.close();
});

/** Calls the Worker's fetch as workerd would; returns the response, the events logged and what reached waitUntil. */
async function call<Env>(worker: { fetch(request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> }, env: Env, path: string, headers: Record<string, string> = {}) {
  const waited: Promise<unknown>[] = [];
  const response = await worker.fetch(new Request(`https://api.example.com${path}`, { headers: { 'cf-connecting-ip': CLIENT, ...headers } }), env, { waitUntil: (promise) => waited.push(promise) });
  await Promise.all(waited);
  return { response, waited };
}

const withLog = (events: SecurityEvent[]): Pick<GatewayOptions<unknown>, 'engine'> => ({ engine: () => ({ log: (event) => events.push(event) }) });

describe('origins', () => {
  const env = () => ({ ORIGIN_URL: main.url, BILLING_URL: billing.url, PORTCULLIS_IDENTITY_KEY: KEY });
  const worker = gateway(policy, { origins: { '/': 'ORIGIN_URL', '/v1/billing': 'BILLING_URL' } });

  it.each([
    ['/v1/things', 'main'],
    ['/v1/billing/invoices', 'billing'],
    // Whole segments: /v1/billingx is not under /v1/billing.
    ['/v1/billingx', 'main'],
  ])('%s goes to the %s origin, by the longest whole-segment prefix', async (path, which) => {
    const origin = which === 'main' ? main : billing;
    const before = origin.received.length;
    const { response } = await call(worker, env(), path);
    expect(response.status).toBe(200);
    expect(origin.received.slice(before).map(({ target }) => target)).toEqual([path]);
  });

  it.each([
    ['/v1/%62illing/invoices'],
    ['/v1/billin%67/invoices'],
    ['/%76%31/billing/invoices'],
  ])('%s goes to the billing origin: the policy decoded it as the billing route, so it is chosen by the decoded path', async (path) => {
    const mainBefore = main.received.length;
    const before = billing.received.length;
    const { response } = await call(worker, env(), path);
    expect(response.status).toBe(200);
    expect(billing.received.slice(before)).toHaveLength(1);
    expect(main.received.slice(mainBefore)).toHaveLength(0);
  });

  it('a path under no prefix is 404 when there is no "/" entry', async () => {
    const onlyV1 = gateway(policy, { origins: { '/v1': 'ORIGIN_URL' } });
    expect((await call(onlyV1, env(), '/v2/things')).response.status).toBe(404);
  });

  it.each([
    [{ 'v1': 'ORIGIN_URL' }, 'gateway: origins["v1"] must be a path prefix such as "/" or "/v1/billing" (no trailing slash, query or fragment)'],
    [{ '/v1/': 'ORIGIN_URL' }, 'gateway: origins["/v1/"] must be a path prefix such as "/" or "/v1/billing" (no trailing slash, query or fragment)'],
    [{ '/v1?x': 'ORIGIN_URL' }, 'gateway: origins["/v1?x"] must be a path prefix such as "/" or "/v1/billing" (no trailing slash, query or fragment)'],
    [{ '/': 'https://origin.example.com' }, 'gateway: origins["/"] must name a binding, got "https://origin.example.com"'],
    [{}, 'gateway: options.origins is empty'],
  ])('refuses origins %j at construction', (origins, message) => {
    expect(() => gateway(policy, { origins })).toThrow(new TypeError(message));
  });
});

describe('the policy', () => {
  const env = { ORIGIN_URL: 'https://origin.example.com', PORTCULLIS_IDENTITY_KEY: KEY };
  const untrusting: Policy = { ...policy, clientIp: { trustedProxies: [] } };

  it('must trust cloudflare: a static policy that does not is refused at construction (deploy)', () => {
    expect(() => gateway(untrusting)).toThrow(/policy\.clientIp\.trustedProxies must include "cloudflare"/);
  });

  it('from a factory that does not: 500 and a log line at the first request', async () => {
    const events: SecurityEvent[] = [];
    const { response } = await call(gateway(() => untrusting, withLog(events)), env, '/v1/things');
    expect(response.status).toBe(500);
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'gateway.misconfigured', error: expect.stringContaining('must include "cloudflare"') }]);
  });

  it('is built once per env (per isolate), again for another env', async () => {
    const factory = vi.fn((_env: { ORIGIN_URL: string; PORTCULLIS_IDENTITY_KEY: string }) => policy);
    const worker = gateway(factory);
    const first = { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY };
    await Promise.all([call(worker, first, '/v1/things'), call(worker, first, '/v1/things')]);
    await call(worker, first, '/v1/things');
    expect(factory).toHaveBeenCalledTimes(1);
    await call(worker, { ...first }, '/v1/things');
    expect(factory).toHaveBeenCalledTimes(2);
  });

  it('from a factory that failed is built again at the next request', async () => {
    let fail = true;
    const worker = gateway(() => {
      if (fail) throw new Error('JWKS not reachable yet');
      return policy;
    }, withLog([]));
    const env = { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY };
    expect((await call(worker, env, '/v1/things')).response.status).toBe(500);
    fail = false;
    expect((await call(worker, env, '/v1/things')).response.status).toBe(200);
  });
});

describe('per request', () => {
  it('the client is CF-Connecting-IP, work after the response goes to waitUntil', async () => {
    // A bucket that counts failures is settled once the answer's status is known: work after the response.
    const counting = definePolicy({
      ...policy,
      rateLimits: { failures: { limit: 5, window: '1m', by: 'ip', count: 'failures' } },
      routes: { ...policy.routes, 'GET /v1/things': { authn: 'anonymous', rateLimit: ['failures'] } },
    });
    const worker = gateway(counting);
    const before = main.received.length;
    const { response, waited } = await call(worker, { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY }, '/v1/things');
    expect(response.status).toBe(200);
    expect(waited.length).toBeGreaterThan(0);
    expect(main.received[before]!.headers['x-forwarded-for']).toBe(CLIENT);
  });

  it('originSecret adds the shared secret from its binding; a client cannot set it', async () => {
    const worker = gateway(policy, { originSecret: { binding: 'ORIGIN_SECRET', header: 'x-origin-secret' } });
    const before = main.received.length;
    await call(worker, { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY, ORIGIN_SECRET: 's3cret-from-binding' }, '/v1/things', { 'x-origin-secret': 'guess' });
    expect(main.received[before]!.headers['x-origin-secret']).toBe('s3cret-from-binding');
  });

  it('a bad identity option is logged as itself, not as the key binding', async () => {
    const events: SecurityEvent[] = [];
    const worker = gateway(policy, { identity: { ttlSeconds: 0 }, ...withLog(events) });
    const { response } = await call(worker, { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY }, '/v1/things');
    expect(response.status).toBe(500);
    expect(events[0]!.error).toBe('PolicyError: identity.ttlSeconds: a whole number of seconds from 1 to 3600, got 0');
  });

  it('originSecret without its binding fails closed, naming it', async () => {
    const events: SecurityEvent[] = [];
    const worker = gateway(policy, { originSecret: { binding: 'ORIGIN_SECRET', header: 'x-origin-secret' }, ...withLog(events) });
    const { response } = await call(worker, { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY }, '/v1/things');
    expect(response.status).toBe(500);
    expect(events[0]!.error).toBe('BindingError: binding ORIGIN_SECRET is not set (wrangler.toml [vars], or `wrangler secret put ORIGIN_SECRET`)');
  });
});

describe('forwarding options', () => {
  it('forwardHeaders adds to the allow-list; stripHeaders still removes; identity headers a client sends never pass', async () => {
    const worker = gateway(policy, { forwardHeaders: ['cookie'], stripHeaders: ['referer'] });
    const before = main.received.length;
    await call(worker, { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY }, '/v1/things', {
      cookie: 'session=1',
      referer: 'https://app.example.com/private',
      'cf-access-authenticated-user-email': 'admin@example.com',
      'x-ms-client-principal': 'forged',
    });
    const { headers } = main.received[before]!;
    expect([headers.cookie, headers.referer, headers['cf-access-authenticated-user-email'], headers['x-ms-client-principal']]).toEqual(['session=1', undefined, undefined, undefined]);
  });

  it('a bad forwarding option fails at construction (deploy)', () => {
    expect(() => gateway(policy, { forwardHeaders: ['authorization'] })).toThrow(/forwardHeaders\[0\]: "authorization"/);
    expect(() => gateway(policy, { redirectOrigins: ['not an origin'] })).toThrow(/redirectOrigins\[0\]/);
  });

  it('forwardHeaders naming the configured identity header is logged as itself, not as the origin binding', async () => {
    const events: SecurityEvent[] = [];
    const worker = gateway(policy, { identity: { header: 'x-edge-identity' }, forwardHeaders: ['x-edge-identity'], ...withLog(events) });
    const { response } = await call(worker, { ORIGIN_URL: main.url, PORTCULLIS_IDENTITY_KEY: KEY }, '/v1/things');
    expect(response.status).toBe(500);
    expect(events[0]!.error).toMatch(/^PolicyError: forwardTo\(\)\.forwardHeaders\[0\]: "x-edge-identity"/);
  });
});
