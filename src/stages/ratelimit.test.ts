import { describe, expect, it } from 'vitest';
import { createEngine, definePolicy, denialResponse, memoryStore } from '../index.ts';
import type { AuthnMethod, Decision, EngineEnv, EvaluateContext, Policy, RateLimitStore, SecurityEvent } from '../index.ts';
import { userHeader } from '../../test/fixtures/user-header.ts';

/** 2026-01-01T00:00:00Z; every engine here runs on this pinned clock unless a test moves it. */
const T0 = Date.UTC(2026, 0, 1);

function sink() {
  const events: SecurityEvent[] = [];
  return { events, log: (event: SecurityEvent) => void events.push(event) };
}


function engineWith(policy: Omit<Policy, 'routes'> & Partial<Pick<Policy, 'routes'>>, env: EngineEnv = {}) {
  const { events, log } = sink();
  let clock = T0;
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      routes: { 'GET /x': { authn: 'anonymous', rateLimit: Object.keys(policy.rateLimits ?? {}) } },
      ...policy,
    } as Policy),
    { now: () => clock, log, ...env },
  );
  const send = (context: EvaluateContext = {}, init: RequestInit & { path?: string } = {}) =>
    engine.evaluate(new Request(`https://api.test${init.path ?? '/x'}`, init), context);
  return { engine, events, send, advance: (ms: number) => (clock += ms) };
}

const from = (address: string): EvaluateContext => ({ peer: { address } });
const status = (decision: Decision) => (decision.kind === 'allow' ? 200 : decision.status);

describe('rate-limit keys come from the canonical client address', () => {
  const perIp = { rateLimits: { ip: { limit: 1, window: '1m', by: 'ip' as const } } };

  it.each([
    ['an IPv4-mapped IPv6 address and its IPv4 address', '::ffff:203.0.113.7', '203.0.113.7'],
    ['a bracketed IPv6 address with a port and another spelling of it', '[2001:db8::1]:443', '2001:DB8:0:0::1'],
    ['an IPv4 address with and without a port', '198.51.100.4:51234', '198.51.100.4'],
    ['two addresses inside one IPv6 /64', '2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff'],
  ])('%s share one bucket', async (_, first, second) => {
    const { send } = engineWith(perIp);
    expect(status(await send(from(first)))).toBe(200);
    expect(status(await send(from(second)))).toBe(429);
  });

  it('counts the IPv4-mapped spelling as the IPv4 address, not as one bucket for every mapped client', async () => {
    const { send } = engineWith(perIp);
    expect(status(await send(from('::ffff:203.0.113.7')))).toBe(200);
    expect(status(await send(from('::ffff:203.0.113.8')))).toBe(200);
  });

  it('rotating addresses inside one /64 buys nothing; the next /64 is another subscriber', async () => {
    const { send } = engineWith({ rateLimits: { ip: { limit: 3, window: '1m', by: 'ip' } } });
    const granted = [];
    for (let i = 1; i <= 10; i++) granted.push(status(await send(from(`2001:db8:1:2::${i.toString(16)}`))));
    expect(granted.filter((code) => code === 200)).toHaveLength(3);
    expect(status(await send(from('2001:db8:1:3::1')))).toBe(200);
  });

  it('groups by the bucket`s ipv6Prefix: /128 keys each address', async () => {
    const { send } = engineWith({ rateLimits: { ip: { limit: 1, window: '1m', by: 'ip', ipv6Prefix: 128 } } });
    expect(status(await send(from('2001:db8::1')))).toBe(200);
    expect(status(await send(from('2001:db8::2')))).toBe(200);
    expect(status(await send(from('2001:db8::1')))).toBe(429);
  });

  it('does not mint new buckets for X-Forwarded-For rotation from an untrusted peer', async () => {
    const { send } = engineWith({ ...perIp, clientIp: { trustedProxies: ['10.0.0.0/8'] } });
    expect(status(await send(from('198.51.100.9'), { headers: { 'x-forwarded-for': '203.0.113.1' } }))).toBe(200);
    for (let i = 2; i < 6; i++) {
      expect(status(await send(from('198.51.100.9'), { headers: { 'x-forwarded-for': `203.0.113.${i}` } }))).toBe(429);
    }
  });

  it('keys on the forwarded client, in its canonical spelling, when the peer is a trusted proxy', async () => {
    const { send } = engineWith({ ...perIp, clientIp: { trustedProxies: ['10.0.0.0/8'] } });
    const via = (xff: string) => send(from('10.1.2.3'), { headers: { 'x-forwarded-for': xff } });
    expect(status(await via('203.0.113.1'))).toBe(200);
    expect(status(await via('::ffff:203.0.113.1'))).toBe(429);
    expect(status(await via('203.0.113.2'))).toBe(200);
  });
});

describe('per-principal buckets', () => {
  const policy = {
    authn: { user: userHeader },
    rateLimits: { api: { limit: 2, window: '1m' } },
    routes: { 'GET /x': { authn: ['user'], allow: 'authenticated', rateLimit: ['api'] } },
  } as const;

  it('count each user separately, wherever the requests come from', async () => {
    const { send } = engineWith(policy);
    const as = (user: string, address: string) => send(from(address), { headers: { authorization: `User ${user}` } });
    expect(status(await as('alice', '203.0.113.1'))).toBe(200);
    expect(status(await as('alice', '203.0.113.2'))).toBe(200);
    expect(status(await as('alice', '203.0.113.3'))).toBe(429);
    expect(status(await as('bob', '203.0.113.1'))).toBe(200);
  });

  it('run after authentication: an unauthenticated request takes nothing from a user`s bucket', async () => {
    const { send } = engineWith(policy);
    for (let i = 0; i < 5; i++) expect(status(await send(from('203.0.113.1')))).toBe(401);
    expect(status(await send(from('203.0.113.1'), { headers: { authorization: 'User alice' } }))).toBe(200);
  });

  it('pre-auth (per-IP) buckets refuse before authentication runs', async () => {
    let calls = 0;
    const counting: AuthnMethod = { ...userHeader, authenticate: (request, env) => (calls++, userHeader.authenticate(request, env)) };
    const { send } = engineWith({
      authn: { user: counting },
      rateLimits: { ip: { limit: 1, window: '1m', by: 'ip' } },
      routes: { 'GET /x': { authn: ['user'], allow: 'authenticated', rateLimit: ['ip'] } },
    });
    await send(from('203.0.113.1'), { headers: { authorization: 'User alice' } });
    expect(status(await send(from('203.0.113.1'), { headers: { authorization: 'User alice' } }))).toBe(429);
    expect(calls).toBe(1);
  });

  it('key anonymous callers of a principal bucket by address', async () => {
    const { send } = engineWith({ rateLimits: { api: { limit: 1, window: '1m' } } });
    expect(status(await send(from('203.0.113.1')))).toBe(200);
    expect(status(await send(from('203.0.113.2')))).toBe(200);
    expect(status(await send(from('203.0.113.1')))).toBe(429);
  });
});

describe("count: 'failures' (login brute force)", () => {
  const login = {
    rateLimits: { login: { limit: 2, window: '15m', by: 'ip' as const, count: 'failures' as const } },
  };

  it('counts only failure statuses, settled after the response', async () => {
    const { send } = engineWith(login);
    const attempt = async (result: number) => {
      const decision = await send(from('203.0.113.7'));
      await decision.settle(result);
      return status(decision);
    };
    for (let i = 0; i < 5; i++) expect(await attempt(200)).toBe(200);
    expect(await attempt(401)).toBe(200);
    expect(await attempt(200)).toBe(200);
    expect(await attempt(403)).toBe(200);
    expect(await attempt(200)).toBe(429);
  });

  it('counts the statuses of failureStatuses only', async () => {
    const { send } = engineWith({ rateLimits: { login: { ...login.rateLimits.login, limit: 1, failureStatuses: [400] } } });
    const first = await send(from('203.0.113.7'));
    await first.settle(401);
    const second = await send(from('203.0.113.7'));
    await second.settle(400);
    expect(status(await send(from('203.0.113.7')))).toBe(429);
  });

  it('settles once, however often settle is called', async () => {
    const { send } = engineWith(login);
    const decision = await send(from('203.0.113.7'));
    await decision.settle(401);
    await decision.settle(401);
    await decision.settle(401);
    expect(status(await send(from('203.0.113.7')))).toBe(200);
  });

  it('holds failed logins racing past the check to the limit', async () => {
    // Many concurrent attempts (a slow password hash widens the gap) must not all be admitted
    // because none of them had failed yet when they were checked.
    const { send } = engineWith(login);
    const decisions = await Promise.all(Array.from({ length: 10 }, () => send(from('203.0.113.7'))));
    await Promise.all(decisions.map((decision) => decision.settle(401)));
    expect(decisions.filter((decision) => decision.kind === 'allow')).toHaveLength(2);
  });

  it('keeps refusing a client that goes on guessing after the limit (its 429s give nothing back)', async () => {
    const { engine } = engineWith(login);
    let guesses = 0;
    const wrongPassword = () => (guesses++, new Response('wrong password', { status: 401 }));
    const statuses = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await engine.handle(new Request('https://api.test/x'), from('203.0.113.7'), wrongPassword)).status);
    }
    expect(guesses).toBe(2);
    expect(statuses).toEqual([401, 401, 429, 429, 429, 429, 429, 429, 429, 429]);
  });
});

describe('concurrency', () => {
  it('of requests racing for the last tokens, exactly `limit` get through', async () => {
    const { send } = engineWith({ rateLimits: { api: { limit: 5, window: '1m', by: 'ip' } } });
    await send(from('203.0.113.7'));
    await send(from('203.0.113.7'));
    const decisions = await Promise.all(Array.from({ length: 20 }, () => send(from('203.0.113.7'))));
    expect(decisions.filter((decision) => decision.kind === 'allow')).toHaveLength(3);
  });

  it('holds with a store that answers asynchronously (a network store) too', async () => {
    const memory = memoryStore();
    const slow: RateLimitStore = {
      consume: (bucket, key, now) => new Promise((resolve) => setTimeout(() => resolve(memory.consume(bucket, key, now)), Math.random() * 5)),
      peek: (bucket, key, now) => memory.peek(bucket, key, now),
    };
    const { send } = engineWith({ rateLimits: { api: { limit: 4, window: '1m', by: 'ip' } } }, { rateLimitStore: slow });
    const decisions = await Promise.all(Array.from({ length: 20 }, () => send(from('203.0.113.7'))));
    expect(decisions.filter((decision) => decision.kind === 'allow')).toHaveLength(4);
  });
});

describe('RateLimit headers and 429', () => {
  it('shows RateLimit-Policy and RateLimit on allowed responses, and 429 problem+json with Retry-After when exceeded', async () => {
    const { send, advance } = engineWith({ rateLimits: { api: { limit: 2, window: '1m', by: 'ip', algorithm: 'fixed-window' } } });
    advance(15_000);
    const first = await send(from('203.0.113.7'));
    expect(first.kind).toBe('allow');
    expect(first.headers.get('ratelimit-policy')).toBe('"api";q=2;w=60');
    expect(first.headers.get('ratelimit')).toBe('"api";r=1;t=45');
    const second = await send(from('203.0.113.7'));
    expect(second.headers.get('ratelimit')).toBe('"api";r=0;t=45');

    advance(5_000);
    const limited = await send(from('203.0.113.7'));
    expect(limited.kind === 'deny' && limited.reason).toBe('ratelimit.exceeded');
    const response = denialResponse(limited as Extract<Decision, { kind: 'deny' }>);
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('40');
    expect(response.headers.get('ratelimit')).toBe('"api";r=0;t=40');
    expect(await response.json()).toMatchObject({ status: 429, code: 'ratelimit.exceeded' });
  });

  it('lists every bucket a request took from', async () => {
    const { send } = engineWith({
      rateLimits: { burst: { limit: 10, window: '1s', by: 'ip' }, hourly: { limit: 100, window: '1h', by: 'ip' } },
    });
    const decision = await send(from('203.0.113.7'));
    expect(decision.headers.get('ratelimit-policy')).toBe('"burst";q=10;w=1, "hourly";q=100;w=3600');
    expect(decision.headers.get('ratelimit')).toMatch(/^"burst";r=9;t=\d+, "hourly";r=99;t=\d+$/);
  });

  it('refills: the client is admitted again after Retry-After', async () => {
    const { send, advance } = engineWith({ rateLimits: { api: { limit: 1, window: '1m', by: 'ip', algorithm: 'token-bucket' } } });
    await send(from('203.0.113.7'));
    const limited = await send(from('203.0.113.7'));
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBe(60);
    advance(retryAfter * 1000);
    expect(status(await send(from('203.0.113.7')))).toBe(200);
  });
});

describe('store failure', () => {
  const broken: RateLimitStore = {
    consume: async () => {
      throw new Error('ECONNREFUSED 127.0.0.1:6379');
    },
    peek: async () => {
      throw new Error('ECONNREFUSED 127.0.0.1:6379');
    },
  };
  const hanging: RateLimitStore = { consume: () => new Promise(() => {}), peek: () => new Promise(() => {}) };
  const rateLimits = { api: { limit: 5, window: '1m', by: 'ip' as const } };

  it('fails closed by default: 503 ratelimit.unavailable, logged, with no internal detail in the response', async () => {
    const { send, events } = engineWith({ rateLimits }, { rateLimitStore: broken });
    const decision = await send(from('203.0.113.7'));
    expect(decision.kind === 'deny' && [decision.status, decision.reason]).toEqual([503, 'ratelimit.unavailable']);
    const body = await denialResponse(decision as Extract<Decision, { kind: 'deny' }>).text();
    expect(body).not.toContain('ECONNREFUSED');
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'ratelimit.unavailable', status: 503 }]);
    expect(events[0]!.error).toContain('ECONNREFUSED');
  });

  it("lets requests through with onStoreError: 'allow', and logs the failure", async () => {
    const { send, events } = engineWith({ rateLimits, rateLimiting: { onStoreError: 'allow' } }, { rateLimitStore: broken });
    const decision = await send(from('203.0.113.7'));
    expect(decision.kind).toBe('allow');
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'ratelimit.store_error' }]);
  });

  it('treats a store that hangs as failed after storeTimeoutMs', async () => {
    const { send, events } = engineWith({ rateLimits, rateLimiting: { storeTimeoutMs: 50 } }, { rateLimitStore: hanging });
    const started = performance.now();
    const decision = await send(from('203.0.113.7'));
    const elapsed = performance.now() - started;
    expect(decision.kind === 'deny' && decision.reason).toBe('ratelimit.unavailable');
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
    expect(events[0]!.error).toMatch(/50 ms/);
  });

  it("lets a hanging store's requests through after storeTimeoutMs with onStoreError: 'allow'", async () => {
    const { send, events } = engineWith({ rateLimits, rateLimiting: { storeTimeoutMs: 50, onStoreError: 'allow' } }, { rateLimitStore: hanging });
    expect((await send(from('203.0.113.7'))).kind).toBe('allow');
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'ratelimit.store_error' }]);
  });

  it('hands pending store work to waitUntil, and logs it when it fails later', async () => {
    const memory = memoryStore();
    let fail: (error: Error) => void = () => {};
    const pending = new Promise((_, reject) => (fail = reject));
    const store: RateLimitStore = {
      consume: async (bucket, key, now) => ({ ...(await memory.consume(bucket, key, now)), pending }),
      peek: (bucket, key, now) => memory.peek(bucket, key, now),
    };
    const { send, events } = engineWith({ rateLimits }, { rateLimitStore: store });
    const handed: Promise<unknown>[] = [];
    expect((await send({ ...from('203.0.113.7'), waitUntil: (work) => void handed.push(work) })).kind).toBe('allow');
    expect(handed).toHaveLength(1);
    fail(new Error('analytics write failed'));
    await handed[0];
    expect(events).toMatchObject([{ event: 'portcullis.error', reason: 'ratelimit.store_error' }]);
  });
});

describe('other keys', () => {
  it('by route: one bucket for every caller of the route', async () => {
    const { send } = engineWith({ rateLimits: { route: { limit: 2, window: '1m', by: 'route' } } });
    expect(status(await send(from('203.0.113.1')))).toBe(200);
    expect(status(await send(from('203.0.113.2')))).toBe(200);
    expect(status(await send(from('203.0.113.3')))).toBe(429);
  });

  it('by a custom function: the key it returns', async () => {
    const { send } = engineWith({
      rateLimits: { tenant: { limit: 1, window: '1m', by: ({ request }) => request.headers.get('x-tenant') ?? 'none' } },
    });
    const as = (tenant: string, address: string) => send(from(address), { headers: { 'x-tenant': tenant } });
    expect(status(await as('a', '203.0.113.1'))).toBe(200);
    expect(status(await as('a', '203.0.113.2'))).toBe(429);
    expect(status(await as('b', '203.0.113.1'))).toBe(200);
  });
});
