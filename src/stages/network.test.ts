/**
 * `ip` and `country` rules through a real engine: on the client the policy resolved (trusted
 * proxies, canonical spellings), deny over allow, and refusals when the client cannot be placed.
 */
import { describe, expect, it } from 'vitest';
import { ASSIGNED_COUNT } from '../country.ts';
import { createEngine, definePolicy, PolicyError } from '../index.ts';
import type { Decision, EvaluateContext, Policy, SecurityEvent } from '../index.ts';
import { checkCidr } from '../ip-set.ts';

function engineWith(policy: Partial<Policy>) {
  const events: SecurityEvent[] = [];
  const engine = createEngine(
    definePolicy({ transport: { requireHttps: false }, routes: { 'GET /x': { authn: 'anonymous' } }, ...policy } as Policy),
    { log: (event) => void events.push(event) },
  );
  const send = (context: EvaluateContext, headers: HeadersInit = {}, path = '/x') => engine.evaluate(new Request(`https://api.test${path}`, { headers }), context);
  return { send, events };
}

const from = (address: string | undefined): EvaluateContext => ({ peer: { address } });
const outcome = (decision: Decision) => (decision.kind === 'allow' ? 'allow' : `${decision.status} ${decision.reason}`);

describe('ip rules', () => {
  const { send } = engineWith({ ip: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.0/24'] } });

  it.each([
    ['10.1.2.3', 'allow'],
    ['::ffff:10.1.2.3', 'allow'],
    ['[2001:DB8::1]:443', 'allow'],
    ['10.6.6.6', '403 network.ip_denied'],
    ['::ffff:10.6.6.6', '403 network.ip_denied'],
    ['192.0.2.1', '403 network.ip_denied'],
    ['2001:db9::1', '403 network.ip_denied'],
  ])('a client at %s: %s', async (address, expected) => {
    expect(outcome(await send(from(address)))).toBe(expected);
  });

  it('refuses a client whose address the runtime did not give', async () => {
    expect(outcome(await send(from(undefined)))).toBe('403 network.ip_unknown');
    const denyOnly = engineWith({ ip: { deny: ['10.6.6.0/24'] } });
    expect(outcome(await denyOnly.send(from(undefined)))).toBe('403 network.ip_unknown');
  });

  it('judges the client a trusted proxy names, and ignores the header from anyone else', async () => {
    const behind = engineWith({ clientIp: { trustedProxies: ['loopback'] }, ip: { deny: ['203.0.113.0/24'] } });
    expect(outcome(await behind.send(from('127.0.0.1'), { 'x-forwarded-for': '203.0.113.9' }))).toBe('403 network.ip_denied');
    expect(outcome(await behind.send(from('127.0.0.1'), { 'x-forwarded-for': '198.51.100.1' }))).toBe('allow');
    // An untrusted peer cannot launder itself through a header.
    expect(outcome(await behind.send(from('203.0.113.9'), { 'x-forwarded-for': '198.51.100.1' }))).toBe('403 network.ip_denied');
    const allowList = engineWith({ clientIp: { trustedProxies: ['loopback'] }, ip: { allow: ['198.51.100.0/24'] } });
    expect(outcome(await allowList.send(from('192.0.2.1'), { 'x-forwarded-for': '198.51.100.1' }))).toBe('403 network.ip_denied');
  });

  it('checks the policy-wide rules on every path, before routing, and a route rule on its own route', async () => {
    const { send: call, events } = engineWith({
      ip: { deny: ['192.0.2.0/24'] },
      routes: { 'GET /x': { authn: 'anonymous' }, 'GET /admin': { authn: 'anonymous', ip: { allow: ['127.0.0.0/8', '::1'] } } },
    });
    expect(outcome(await call(from('192.0.2.1'), {}, '/nowhere'))).toBe('403 network.ip_denied');
    expect(outcome(await call(from('198.51.100.1'), {}, '/nowhere'))).toBe('404 route.not_found');
    expect(outcome(await call(from('198.51.100.1'), {}, '/x'))).toBe('allow');
    expect(outcome(await call(from('198.51.100.1'), {}, '/admin'))).toBe('403 network.ip_denied');
    expect(outcome(await call(from('::1'), {}, '/admin'))).toBe('allow');
    expect(events.findLast((event) => event.route === 'GET /admin')).toMatchObject({ event: 'portcullis.deny', reason: 'network.ip_denied', route: 'GET /admin', reasons: ['ip.allow: 198.51.100.1 is in no range'] });
  });
});

describe('country rules', () => {
  const policy = { clientIp: { trustedProxies: ['10.0.0.0/8'], countryHeader: 'CF-IPCountry' }, country: { allow: ['DE', 'FR'], deny: ['FR'] } };

  it.each([
    ['DE', 'allow'],
    ['de', 'allow'],
    ['FR', '403 network.country_denied'],
    ['US', '403 network.country_denied'],
    ['XX', '403 network.country_unknown'],
    ['DE, US', '403 network.country_unknown'],
  ])('a trusted proxy reporting %j: %s', async (country, expected) => {
    const { send } = engineWith(policy);
    expect(outcome(await send(from('10.0.0.1'), { 'cf-ipcountry': country }))).toBe(expected);
  });

  it('ignores the country header from an untrusted peer, and refuses for want of a country (fail closed)', async () => {
    const { send } = engineWith(policy);
    expect(outcome(await send(from('198.51.100.1'), { 'cf-ipcountry': 'DE' }))).toBe('403 network.country_unknown');
    expect(outcome(await send(from('10.0.0.1')))).toBe('403 network.country_unknown');
  });

  it("lets an unknown country through only when the policy says unknown: 'allow'", async () => {
    const { send } = engineWith({ ...policy, country: { deny: ['RU'], unknown: 'allow' } });
    expect(outcome(await send(from('198.51.100.1'), { 'cf-ipcountry': 'RU' }))).toBe('allow');
    expect(outcome(await send(from('10.0.0.1'), { 'cf-ipcountry': 'RU' }))).toBe('403 network.country_denied');
  });

  it("takes the platform's country (request.cf.country on Workers) without any header", async () => {
    const { send } = engineWith({ country: { allow: ['DE'] } });
    expect(outcome(await send({ peer: { platform: 'cloudflare', country: 'DE' } }))).toBe('allow');
    expect(outcome(await send({ peer: { platform: 'cloudflare', country: 'US' } }))).toBe('403 network.country_denied');
    // CF-IPCountry from a Worker's caller is believed only when the policy trusts Cloudflare and names it.
    expect(outcome(await send({ peer: { platform: 'cloudflare' } }, { 'cf-ipcountry': 'DE' }))).toBe('403 network.country_unknown');
    const trusting = engineWith({ clientIp: { trustedProxies: ['cloudflare'], countryHeader: 'cf-ipcountry' }, country: { allow: ['DE'] } });
    expect(outcome(await trusting.send({ peer: { platform: 'cloudflare' } }, { 'cf-ipcountry': 'DE' }))).toBe('allow');
  });
});

describe('definePolicy names bad network rules precisely', () => {
  const messageOf = (policy: Partial<Policy>) => {
    try {
      definePolicy({ routes: { 'GET /x': { authn: 'anonymous' } }, ...policy } as Policy);
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyError);
      return (error as Error).message;
    }
    throw new Error('definePolicy accepted the policy');
  };

  it.each([
    [{ ip: { allow: ['10.0.0.1/8'] } }, 'ip.allow[0]: "10.0.0.1/8" has host bits set after /8'],
    [{ ip: { deny: ['10.0.0.0/33'] } }, 'ip.deny[0]: "10.0.0.0/33": the prefix length must be a number from 0 to 32'],
    [{ ip: { deny: ['2001:db8::/129'] } }, 'ip.deny[0]: "2001:db8::/129": the prefix length must be a number from 0 to 128'],
    [{ ip: { allow: ['10.0.0.256'] } }, 'ip.allow[0]: "10.0.0.256" is not a CIDR range or an address'],
    [{ ip: { allow: ['[::1]'] } }, 'ip.allow[0]: "[::1]" is not a CIDR range or an address'],
    [{ ip: { alow: [] } }, 'ip.alow: unknown key'],
    [{ country: { allow: ['UK'] } }, 'country.allow[0]: "UK" is not an ISO 3166-1 code: the United Kingdom is "GB"'],
    [{ country: { deny: ['de'] } }, 'country.deny[0]: "de" must be written in capitals: "DE"'],
    [{ country: { deny: ['ZZ'] } }, 'country.deny[0]: "ZZ" is not an ISO 3166-1 alpha-2 country code'],
    [{ routes: { 'GET /x': { authn: 'anonymous', ip: { deny: ['nope'] } } } }, 'routes["GET /x"].ip.deny[0]: "nope" is not a CIDR range'],
    [{ clientIp: { countryHeader: 'bad header' } }, 'clientIp.countryHeader: must be an HTTP header name'],
  ])('%j', (policy, message) => {
    expect(messageOf(policy as Partial<Policy>)).toContain(message);
  });

  it('accepts ranges, addresses, IPv4-mapped ranges and the assigned codes', () => {
    for (const entry of ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1', '::ffff:10.0.0.0/104', '0.0.0.0/0']) expect(checkCidr(entry)).toBeUndefined();
    expect(ASSIGNED_COUNT).toBe(249);
    expect(() => definePolicy({ country: { allow: ['GB', 'XK'], deny: ['T1'] }, routes: { 'GET /x': { authn: 'anonymous' } } })).not.toThrow();
  });
});
