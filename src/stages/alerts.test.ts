import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { createEngine, definePolicy, memoryStore, PolicyError } from '../index.ts';
import type { AuthnMethod, Decision, Policy, SecurityEvent } from '../index.ts';
import { nameHash } from './alerts.ts';

/** 2026-01-01T00:00:00Z; every engine here runs on this pinned clock unless a test moves it. */
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

/** Authenticates `Authorization: User <id>`; anything else is absent. */
const userHeader: AuthnMethod = {
  kind: 'test',
  challenge: 'User realm="test"',
  async authenticate(request) {
    const id = /^User (\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
    return id ? { kind: 'success', principal: { id, roles: [], scopes: [], claims: {} } } : { kind: 'absent' };
  },
};

const LoginBody = v.object({ username: v.string(), password: v.string() });

function setup(alerts: Policy['alerts']) {
  const events: SecurityEvent[] = [];
  let clock = T0;
  let ids = 0;
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { user: userHeader },
      alerts,
      routes: {
        'POST /login': { authn: 'anonymous', body: LoginBody },
        'GET /me': { authn: ['user'], allow: 'authenticated' },
      },
    }),
    { now: () => clock, log: (event) => void events.push(event), randomId: () => `req-${++ids}`, rateLimitStore: memoryStore() },
  );
  /** A login from `ip` for `username`, settled with the origin's `status`. */
  async function login(username: string, ip: string, status: number): Promise<Decision> {
    const body = JSON.stringify({ username, password: 'guess' });
    const decision = await engine.evaluate(new Request('https://api.test/login', { method: 'POST', body, headers: { 'content-type': 'application/json' } }), { peer: { address: ip } });
    await decision.settle(decision.kind === 'allow' ? status : decision.status);
    return decision;
  }
  const alertsRaised = () => events.filter((event) => event.event === 'portcullis.alert');
  return { engine, events, login, alertsRaised, advance: (ms: number) => (clock += ms) };
}

const stuffing: Policy['alerts'] = { failed_logins: { kind: 'failed-logins', per: 'username', routes: ['POST /login'], threshold: 10, window: '5m' } };

describe('failed-logins per username (credential stuffing)', () => {
  it('raises one alert at the 10th failure for one username, each from another address, and names the window', async () => {
    const { login, alertsRaised } = setup(stuffing);
    for (let i = 1; i <= 9; i++) await login('alice', `203.0.113.${i}`, 401);
    expect(alertsRaised()).toEqual([]);
    await login('alice', '198.51.100.10', 401);
    expect(alertsRaised()).toEqual([
      expect.objectContaining({
        event: 'portcullis.alert',
        alert: 'failed_logins',
        kind: 'failed-logins',
        key: await nameHash('alice'),
        count: 10,
        threshold: 10,
        window: '5m',
        firstRequestId: 'req-1',
        lastRequestId: 'req-10',
        requestId: 'req-10',
        clientIp: '198.51.100.10',
        route: 'POST /login',
      }),
    ]);
  });

  it('names the username by hash only: the username never appears in the event', async () => {
    const { login, alertsRaised } = setup(stuffing);
    for (let i = 0; i < 10; i++) await login('Alice.Secret@example.com', `203.0.113.${i}`, 401);
    const line = JSON.stringify(alertsRaised());
    expect(line).not.toMatch(/alice|secret|example|guess/i);
    expect(alertsRaised()[0]!.key).toMatch(/^[0-9a-f]{16}$/);
  });

  it('counts spellings the login treats alike together (case, Unicode compatibility forms)', async () => {
    const { login, alertsRaised } = setup(stuffing);
    for (const name of ['alice', 'ALICE', 'Alice', 'ａｌｉｃｅ', 'alice', 'aLice', 'alicE', 'ALIce', 'alICE', 'AlIcE']) await login(name, '203.0.113.1', 401);
    expect(alertsRaised()).toHaveLength(1);
  });

  it('does not count successful logins, or answers outside failureStatuses', async () => {
    const { login, alertsRaised } = setup(stuffing);
    for (let i = 0; i < 20; i++) await login('alice', '203.0.113.1', i % 2 ? 200 : 500);
    expect(alertsRaised()).toEqual([]);
  });

  it('raises at most once per window, and again in the next window while the attack goes on', async () => {
    const { login, alertsRaised, advance } = setup(stuffing);
    for (let i = 0; i < 30; i++) await login('alice', `203.0.113.${i}`, 401);
    expect(alertsRaised()).toHaveLength(1);
    advance(5 * MINUTE);
    for (let i = 0; i < 10; i++) await login('alice', `203.0.113.${i}`, 401);
    expect(alertsRaised()).toHaveLength(2);
  });

  it('counts each username apart', async () => {
    const { login, alertsRaised } = setup(stuffing);
    for (let i = 0; i < 9; i++) {
      await login('alice', '203.0.113.1', 401);
      await login('bob', '203.0.113.1', 401);
    }
    expect(alertsRaised()).toEqual([]);
  });

  it('forgets failures older than the window', async () => {
    const { login, alertsRaised, advance } = setup(stuffing);
    for (let i = 0; i < 9; i++) await login('alice', '203.0.113.1', 401);
    advance(11 * MINUTE);
    await login('alice', '203.0.113.1', 401);
    expect(alertsRaised()).toEqual([]);
  });
});

describe('failed-logins per ip (password spraying)', () => {
  const spraying: Policy['alerts'] = { spraying: { kind: 'failed-logins', per: 'ip', routes: ['POST /login'], threshold: 5, window: '10m' } };

  it('raises when one address fails for 5 distinct usernames; repeats of one username do not count', async () => {
    const { login, alertsRaised } = setup(spraying);
    for (let i = 0; i < 20; i++) await login('alice', '203.0.113.7', 401);
    for (const name of ['bob', 'carol', 'dave']) await login(name, '203.0.113.7', 401);
    expect(alertsRaised()).toEqual([]);
    await login('erin', '203.0.113.7', 401);
    expect(alertsRaised()).toEqual([expect.objectContaining({ alert: 'spraying', kind: 'failed-logins', key: '203.0.113.7', count: 5 })]);
  });
});

describe('principal-ips (one principal from many addresses)', () => {
  it('raises when one principal calls from 3 distinct addresses within the window', async () => {
    const { engine, alertsRaised } = setup({ shared_token: { kind: 'principal-ips', threshold: 3, window: '1h' } });
    const call = (user: string, ip: string) => engine.evaluate(new Request('https://api.test/me', { headers: { authorization: `User ${user}` } }), { peer: { address: ip } });
    for (let i = 0; i < 5; i++) await call('u_alice', '203.0.113.1');
    await call('u_alice', '203.0.113.2');
    await call('u_bob', '203.0.113.3');
    await backgroundWork();
    expect(alertsRaised()).toEqual([]);
    await call('u_alice', '203.0.113.3');
    await backgroundWork();
    expect(alertsRaised()).toEqual([expect.objectContaining({ alert: 'shared_token', kind: 'principal-ips', key: await nameHash('user:u_alice'), count: 3, principal: 'user:u_alice' })]);
  });
});

describe('spike', () => {
  it('raises when denials in a minute reach the minimum and 5 times the hour baseline, once', async () => {
    const { engine, alertsRaised, advance } = setup({ denials: { kind: 'spike', of: 'denials', window: '1m', baseline: '1h', factor: 5, minimum: 10 } });
    const unauthenticated = () => engine.evaluate(new Request('https://api.test/me'), { peer: { address: '203.0.113.1' } });
    // A steady hour: a denial every 10 seconds, 360 in all.
    for (let i = 0; i < 360; i++) {
      await unauthenticated();
      advance(10_000);
    }
    await backgroundWork();
    expect(alertsRaised()).toEqual([]);
    for (let i = 0; i < 40; i++) await unauthenticated();
    await backgroundWork();
    expect(alertsRaised()).toEqual([expect.objectContaining({ alert: 'denials', kind: 'spike', threshold: 10 })]);
    const [alert] = alertsRaised();
    expect(alert!.count).toBeGreaterThanOrEqual(30);
    expect(alert!.expected).toBeGreaterThan(4);
    expect(alert!.expected).toBeLessThan(8);
    expect(alert!.key).toBeUndefined();
  });

  it('raises on 5xx answers from a quiet start once the minimum is reached', async () => {
    const { login, alertsRaised } = setup({ errors: { kind: 'spike', of: '5xx', window: '1m', baseline: '1h', minimum: 20 } });
    for (let i = 0; i < 19; i++) await login('alice', '203.0.113.1', 502);
    expect(alertsRaised()).toEqual([]);
    await login('alice', '203.0.113.1', 503);
    expect(alertsRaised()).toEqual([expect.objectContaining({ alert: 'errors', count: 20, firstRequestId: 'req-1', lastRequestId: 'req-20' })]);
  });
});

/** Alert counting on denials and authentications runs beside the request: let it finish. */
const backgroundWork = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('definePolicy refuses alerts it cannot run', () => {
  const base = {
    authn: { user: userHeader },
    routes: { 'POST /login': { authn: 'anonymous', body: LoginBody }, 'POST /logout': { authn: 'anonymous' }, 'GET /me': { authn: ['user'], allow: 'authenticated' } },
  } as const;
  it.each([
    ['an unknown kind', { kind: 'brute-force', threshold: 1, window: '1m' }, 'alerts.a.kind'],
    ['a failed-logins alert on a route that does not exist', { kind: 'failed-logins', per: 'username', routes: ['POST /signin'], threshold: 5, window: '5m' }, 'alerts.a.routes[0]: no route "POST /signin"'],
    ['a failed-logins alert on a route without a body schema', { kind: 'failed-logins', per: 'username', routes: ['POST /logout'], threshold: 5, window: '5m' }, 'alerts.a.routes[0]: needs a body schema'],
    ['a malformed window', { kind: 'failed-logins', per: 'username', routes: ['POST /login'], threshold: 5, window: '5 minutes' }, 'alerts.a.window: must be a window'],
    ['a threshold of 0', { kind: 'principal-ips', threshold: 0, window: '1h' }, 'alerts.a.threshold'],
    ['a principal-ips alert on an anonymous route', { kind: 'principal-ips', threshold: 3, window: '1h', routes: ['POST /login'] }, 'alerts.a.routes[0]: is anonymous'],
    ['a spike whose baseline is not longer than its window', { kind: 'spike', of: 'denials', window: '1h', baseline: '1h' }, 'alerts.a.baseline: must be longer than window'],
    ['an unknown key', { kind: 'spike', of: 'denials', window: '1m', baseline: '1h', treshold: 3 }, 'alerts.a.treshold: unknown key'],
  ])('%s', (_, alert, message) => {
    const define = () => definePolicy({ ...base, alerts: { a: alert } } as never);
    expect(define).toThrow(PolicyError);
    expect(define).toThrow(message);
  });
});
