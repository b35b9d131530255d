import { describe, expect, it } from 'vitest';
import { compileAllowedLog, loggedQuery } from './allowed-log.ts';
import { createEngine, definePolicy, type AuthnMethod, type SecurityEvent } from './index.ts';

const FIXED = Date.parse('2026-11-24T12:00:00Z');
/** A method that admits `Bearer alice` as a user with roles and scopes. */
const user: AuthnMethod = {
  kind: 'test',
  challenge: 'Bearer realm="api"',
  credentialHeader: 'authorization',
  authenticate: async (request) =>
    request.headers.get('authorization') === 'Bearer alice'
      ? { kind: 'success', principal: { id: 'u_alice', roles: ['user'], scopes: ['read'], claims: { sub: 'u_alice', email: 'alice@example.com' } } }
      : { kind: 'absent' },
};

function engineWith(logging: { allowed?: { sample: number; queryValues?: string[] } } | undefined) {
  const events: SecurityEvent[] = [];
  const policy = definePolicy({
    transport: { requireHttps: false },
    authn: { user },
    ...(logging ? { logging } : {}),
    routes: {
      'GET /v1/items': { authn: ['user'], allow: [{ name: 'readers', scopes: ['read'] }] },
      'GET /v1/health': { authn: 'anonymous' },
    },
  });
  const engine = createEngine(policy, { now: () => FIXED, log: (event) => void events.push(event) });
  return { engine, events };
}

const ok = () => new Response('ok');

describe('logging.allowed', () => {
  it('logs an allowed request with its status, principal, roles, scopes and rule, and no credential or query value', async () => {
    const { engine, events } = engineWith({ allowed: { sample: 1, queryValues: ['page'] } });
    const request = new Request('http://api.test/v1/items?page=2&token=s3cret&q=alice%40example.com', { headers: { authorization: 'Bearer alice' } });
    const response = await engine.handle(request, { peer: { address: '203.0.113.7', scheme: 'http' } }, () => new Response('made', { status: 201 }));
    expect(response.status).toBe(201);
    expect(events).toEqual([
      {
        time: '2026-11-24T12:00:00.000Z',
        event: 'portcullis.allow',
        reason: 'allow',
        requestId: response.headers.get('x-request-id'),
        status: 201,
        method: 'GET',
        path: '/v1/items',
        query: 'page=2&token&q',
        route: 'GET /v1/items',
        clientIp: '203.0.113.7',
        principal: 'user:u_alice',
        principalKind: 'user',
        roles: ['user'],
        scopes: ['read'],
        rule: 'readers',
      },
    ]);
    const line = JSON.stringify(events);
    expect(line).not.toContain('s3cret');
    expect(line).not.toContain('alice@example.com');
    expect(line).not.toContain('Bearer');
  });

  it('logs an anonymous caller as such', async () => {
    const { engine, events } = engineWith({ allowed: { sample: 1 } });
    await engine.handle(new Request('http://api.test/v1/health'), { peer: { address: '198.51.100.1', scheme: 'http' } }, ok);
    expect(events).toMatchObject([{ event: 'portcullis.allow', route: 'GET /v1/health', principalKind: 'anonymous', roles: [], scopes: [], status: 200 }]);
    expect(events[0]).not.toHaveProperty('query');
  });

  it('logs nothing allowed when the policy does not ask (the default), or with sample 0', async () => {
    for (const logging of [undefined, { allowed: { sample: 0 } }]) {
      const { engine, events } = engineWith(logging);
      await engine.handle(new Request('http://api.test/v1/health'), {}, ok);
      expect(events).toEqual([]);
    }
  });

  it('samples: a share of the requests, decided at random per request', () => {
    const draws = [0.05, 0.5, 0.09, 0.95];
    const log = compileAllowedLog({ sample: 0.1 }, () => draws.shift()!)!;
    expect([log.sampled(), log.sampled(), log.sampled(), log.sampled()]).toEqual([true, false, true, false]);
  });

  it('refuses a sample outside 0 to 1 at definePolicy, naming the path', () => {
    expect(() => definePolicy({ logging: { allowed: { sample: 2 } }, routes: {} })).toThrow('logging.allowed.sample: must be from 0 to 1');
  });

  it('keeps repeated keys and encodes them', () => {
    expect(loggedQuery('?a=1&a=2&b%20c=3', new Set(['a']))).toBe('a=1&a=2&b%20c');
    expect(loggedQuery('', new Set())).toBeUndefined();
  });
});
