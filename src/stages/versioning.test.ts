import { describe, expect, it, test } from 'vitest';
import { denialResponse } from '../decision.ts';
import { createEngine } from '../engine.ts';
import type { SecurityEvent } from '../log.ts';
import type { Policy, VersionPolicy } from '../policy/types.ts';
import type { AuthnMethod } from './authn.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const SUNSET = Date.parse('2026-06-30T00:00:00Z');
const PEER = { peer: { address: '127.0.0.1' } };

const V0: VersionPolicy = { deprecation: '2026-01-01', sunset: '2026-06-30T00:00:00Z', link: 'https://docs.example.com/migrate-to-v1' };
const nobody: AuthnMethod = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' }) };

function setup(versions: Record<string, VersionPolicy> = { '/v0': V0 }, now = FIXED) {
  const events: SecurityEvent[] = [];
  const policy: Policy = {
    authn: { user: nobody },
    versions,
    routes: {
      'GET /v0': { authn: 'anonymous' },
      'GET /v0/users/:id': { authn: 'anonymous' },
      'GET /v0/private': { authn: ['user'], allow: 'authenticated' },
      'GET /v01/users/:id': { authn: 'anonymous' },
      'GET /v1/users/:id': { authn: 'anonymous' },
      'GET /api/v0/things': { authn: 'anonymous' },
      'GET /api/v1/things': { authn: 'anonymous' },
    },
  };
  const engine = createEngine(policy, { now: () => now, randomId: () => 'req-1', log: (e) => events.push(e) });
  const send = async (path: string) => {
    const decision = await engine.evaluate(new Request(`https://api.example.com${path}`), { ...PEER, rawTarget: path });
    const response = decision.kind === 'deny' ? denialResponse(decision) : new Response('ok', { headers: [...decision.headers] });
    return { decision, response };
  };
  return { engine, events, send };
}

const versionHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => ['deprecation', 'sunset', 'link'].includes(name)));

describe('versioning', () => {
  it('allows a deprecated version before its sunset, with Deprecation, Sunset and Link', async () => {
    const { send } = setup();
    const { decision, response } = await send('/v0/users/42');
    expect(decision.kind).toBe('allow');
    expect(versionHeaders(response)).toEqual({
      deprecation: '@1767225600',
      sunset: 'Tue, 30 Jun 2026 00:00:00 GMT',
      link: '<https://docs.example.com/migrate-to-v1>; rel="deprecation"',
    });
  });

  it('sends the version headers on the response engine.handle returns', async () => {
    const { engine } = setup();
    const response = await engine.handle(new Request('https://api.example.com/v0/users/42'), PEER, () => new Response('ok'));
    expect(response.status).toBe(200);
    expect(response.headers.get('deprecation')).toBe('@1767225600');
    expect(response.headers.get('sunset')).toBe('Tue, 30 Jun 2026 00:00:00 GMT');
  });

  test.each([
    ['2026-01-01', '@1767225600'],
    ['2026-01-01T01:00:00+01:00', '@1767225600'],
    ['2025-12-31T23:59:59.999Z', '@1767225599'],
    ['2027-01-01', '@1798761600'],
  ])('writes the deprecation %j as Deprecation: %s (whole epoch seconds)', async (deprecation, header) => {
    const { send } = setup({ '/v0': { deprecation } });
    const { response } = await send('/v0/users/42');
    expect(response.headers.get('deprecation')).toBe(header);
    expect(response.headers.has('sunset')).toBe(false);
  });

  it('writes the sunset as an IMF-fixdate HTTP-date in GMT', async () => {
    const { send } = setup({ '/v0': { sunset: '2026-12-31T18:30:00-05:00' } });
    const { response } = await send('/v0/users/42');
    expect(response.headers.get('sunset')).toBe('Thu, 31 Dec 2026 23:30:00 GMT');
    expect(response.headers.has('deprecation')).toBe(false);
  });

  it('links with rel="sunset" when the version has a sunset but no deprecation', async () => {
    const { send } = setup({ '/v0': { sunset: '2026-06-30', link: 'https://docs.example.com/v0-sunset' } });
    const { response } = await send('/v0/users/42');
    expect(response.headers.get('link')).toBe('<https://docs.example.com/v0-sunset>; rel="sunset"');
  });

  test.each([
    ['at the sunset instant', SUNSET],
    ['a second after the sunset', SUNSET + 1000],
    ['a year after the sunset', SUNSET + 365 * 86400_000],
  ])('answers 410 version.sunset %s', async (_when, now) => {
    const { send, events } = setup({ '/v0': V0 }, now);
    const { decision, response } = await send('/v0/users/42');
    expect(decision).toMatchObject({ kind: 'deny', status: 410, reason: 'version.sunset', route: 'GET /v0/users/:id' });
    expect(response.status).toBe(410);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 410, code: 'version.sunset', type: 'https://portcullis.dev/problems/version.sunset' });
    expect(response.headers.get('sunset')).toBe('Tue, 30 Jun 2026 00:00:00 GMT');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'version.sunset', status: 410, route: 'GET /v0/users/:id' });
  });

  it('still answers a millisecond before the sunset', async () => {
    const { send } = setup({ '/v0': V0 }, SUNSET - 1);
    const { decision } = await send('/v0/users/42');
    expect(decision.kind).toBe('allow');
  });

  it('answers 410 after the sunset without asking for credentials', async () => {
    const { send } = setup({ '/v0': V0 }, SUNSET);
    const { decision, response } = await send('/v0/private');
    expect(decision).toMatchObject({ kind: 'deny', status: 410 });
    expect(response.headers.has('www-authenticate')).toBe(false);
  });

  it('leaves the other versions answering after a sunset', async () => {
    const { send } = setup({ '/v0': V0 }, SUNSET + 1000);
    const { decision, response } = await send('/v1/users/42');
    expect(decision.kind).toBe('allow');
    expect(versionHeaders(response)).toEqual({});
  });

  test.each([
    ['/v0/users/42', true],
    ['/v0', true],
    ['/v01/users/42', false],
    ['/v1/users/42', false],
  ])('matches the prefix /v0 by whole segments: %s is versioned: %s', async (path, versioned) => {
    const { send } = setup({ '/v0': V0 }, SUNSET + 1000);
    const { decision, response } = await send(path);
    expect(decision.kind).toBe(versioned ? 'deny' : 'allow');
    expect(response.headers.has('sunset')).toBe(versioned);
  });

  it('picks the longest matching prefix', async () => {
    const { send } = setup({ '/api': { deprecation: '2026-01-01' }, '/api/v0': { deprecation: '2025-01-01', sunset: '2026-02-01' } });
    const gone = await send('/api/v0/things');
    expect(gone.decision).toMatchObject({ kind: 'deny', status: 410 });
    expect(gone.response.headers.get('deprecation')).toBe(`@${Date.parse('2025-01-01') / 1000}`);
    const deprecated = await send('/api/v1/things');
    expect(deprecated.decision.kind).toBe('allow');
    expect(versionHeaders(deprecated.response)).toEqual({ deprecation: '@1767225600' });
  });

  it('matches prefixes case-sensitively, as routes are matched', async () => {
    const { send } = setup({ '/V0': { sunset: '2026-01-01' } });
    const { decision, response } = await send('/v0/users/42');
    expect(decision.kind).toBe('allow');
    expect(versionHeaders(response)).toEqual({});
  });
});
