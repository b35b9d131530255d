import { describe, expect, it, test } from 'vitest';
import { checkTrustedProxy, compileClientResolver, type ClientIpOptions, type Peer } from './client.ts';

const HTTP_URL = 'http://api.example.com/v1/users';
const HTTPS_URL = 'https://api.example.com/v1/users';

type HeaderInit = Record<string, string> | [string, string][];

/** Resolves one request with a freshly compiled policy. */
function resolve(options: ClientIpOptions, peer: Peer, headers: HeaderInit = {}, url = HTTP_URL) {
  return compileClientResolver(options)(new Headers(headers), peer, url);
}

const behindProxy: ClientIpOptions = { trustedProxies: ['10.0.0.0/8'] };
const behindForwardedProxy: ClientIpOptions = { trustedProxies: ['10.0.0.0/8'], header: 'forwarded' };
const proxy: Peer = { address: '10.0.0.1' };

describe('checkTrustedProxy', () => {
  test.each([['loopback'], ['cloudflare'], ['10.0.0.0/8'], ['2001:db8::/32'], ['192.0.2.1'], ['::1'], ['::ffff:10.0.0.0/104']])(
    'accepts %j',
    (entry) => {
      expect(checkTrustedProxy(entry)).toBeUndefined();
    },
  );

  test.each([['10.0.0.1/8'], ['10.0.0.0/33'], ['localhost'], ['Loopback'], ['*'], [''], ['10.0.0.1:8080'], [' 10.0.0.0/8'], ['[::1]']])(
    'refuses %j, naming it',
    (entry) => {
      expect(checkTrustedProxy(entry)).toBe(`"${entry}" is not a CIDR range, an address, "loopback" or "cloudflare"`);
    },
  );
});

describe('compileClientResolver options', () => {
  it('throws a TypeError naming a bad trusted-proxy entry at construction, not on each request', () => {
    expect(() => compileClientResolver({ trustedProxies: ['loopback', '10.0.0.1/8'] })).toThrow(TypeError);
    expect(() => compileClientResolver({ trustedProxies: ['loopback', '10.0.0.1/8'] })).toThrow(
      'clientIp.trustedProxies: "10.0.0.1/8" is not a CIDR range, an address, "loopback" or "cloudflare"',
    );
  });

  it('throws a TypeError on an unknown forwarding header', () => {
    expect(() => compileClientResolver({ header: 'x-real-ip' as 'forwarded' })).toThrow(TypeError);
  });

  it('trusts nobody by default', () => {
    const resolveClient = compileClientResolver();
    const client = resolveClient(new Headers({ 'x-forwarded-for': '198.51.100.7' }), { address: '127.0.0.1' }, HTTP_URL);
    expect(client).toEqual({ ip: '127.0.0.1', scheme: 'http', forwarded: false, directLoopback: true });
  });
});

describe('a client connecting directly', () => {
  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:DB8:0::7', '2001:db8::7'],
    ['fe80::1%eth0', 'fe80::1'],
  ])('is keyed on the canonical socket address (%s is %s)', (address, ip) => {
    expect(resolve({}, { address })).toEqual({ ip, scheme: 'http', forwarded: false, directLoopback: false });
  });

  test.each([[undefined], [''], ['not-an-ip'], ['1.2.3']])('is "unknown" when the socket address is %j', (address) => {
    expect(resolve({ trustedProxies: ['loopback'] }, { address })).toEqual({
      ip: 'unknown',
      scheme: 'http',
      forwarded: false,
      directLoopback: false,
    });
  });

  test.each([
    [{}, HTTP_URL, 'http'],
    [{}, HTTPS_URL, 'https'],
    [{ scheme: 'https' as const }, HTTP_URL, 'https'],
    [{ scheme: 'http' as const }, HTTPS_URL, 'http'],
  ])('takes the scheme from the socket %o, else from the URL (%s) → %s', (peer, url, scheme) => {
    expect(resolve({}, { address: '203.0.113.7', ...peer }, {}, url).scheme).toBe(scheme);
  });

  test.each([['127.0.0.1'], ['127.9.9.9'], ['::1'], ['::ffff:127.0.0.1']])('from loopback %s is a direct loopback connection', (address) => {
    expect(resolve({}, { address }).directLoopback).toBe(true);
  });
});

describe('forwarding headers from an untrusted peer', () => {
  const spoofs: [string, ClientIpOptions, HeaderInit][] = [
    ['X-Forwarded-For', behindProxy, { 'x-forwarded-for': '198.51.100.7' }],
    ['X-Forwarded-For naming a trusted proxy', behindProxy, { 'x-forwarded-for': '10.0.0.2' }],
    ['X-Forwarded-Proto: https', behindProxy, { 'x-forwarded-proto': 'https' }],
    ['Forwarded', behindForwardedProxy, { forwarded: 'for=198.51.100.7;proto=https' }],
    ['CF-Connecting-IP', { trustedProxies: ['10.0.0.0/8', 'cloudflare'] }, { 'cf-connecting-ip': '198.51.100.7' }],
  ];

  test.each(spoofs)('are ignored entirely: %s', (_name, options, headers) => {
    expect(resolve(options, { address: '203.0.113.7' }, headers)).toEqual({
      ip: '203.0.113.7',
      scheme: 'http',
      forwarded: false,
      directLoopback: false,
    });
  });

  it('cannot downgrade the scheme either', () => {
    expect(resolve(behindProxy, { address: '203.0.113.7' }, { 'x-forwarded-proto': 'http' }, HTTPS_URL).scheme).toBe('https');
  });

  it('leave a direct loopback connection direct when loopback is not trusted', () => {
    expect(resolve(behindProxy, { address: '127.0.0.1' }, { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' })).toEqual({
      ip: '127.0.0.1',
      scheme: 'http',
      forwarded: false,
      directLoopback: true,
    });
  });
});

describe('X-Forwarded-For from a trusted proxy', () => {
  test.each([
    ['the only hop', '203.0.113.7', '203.0.113.7'],
    ['the right-most hop, not a client-supplied left-most one', '198.51.100.1, 203.0.113.7', '203.0.113.7'],
    ['the right-most hop, not a client-supplied loopback', '127.0.0.1, 203.0.113.7', '203.0.113.7'],
    ['the right-most hop, not a client-supplied trusted proxy', '10.0.0.9, 203.0.113.7', '203.0.113.7'],
    ['the hop before a second trusted proxy', '203.0.113.7, 10.0.0.2', '203.0.113.7'],
    ['the hop before several trusted proxies', '198.51.100.1, 203.0.113.7, 10.0.0.3, 10.0.0.2', '203.0.113.7'],
    ['the hop before a trusted proxy written as mapped IPv6', '203.0.113.7, ::ffff:10.0.0.2', '203.0.113.7'],
    ['the left-most hop when every hop is trusted', '10.0.0.5, 10.0.0.2', '10.0.0.5'],
    ['the right-most readable hop, with garbage left of it', 'garbage, 203.0.113.7', '203.0.113.7'],
    ['the last trusted proxy, when the hop before it is garbage', '203.0.113.7, garbage, 10.0.0.2', '10.0.0.2'],
    ['the last trusted proxy, when the hop before it is empty', '203.0.113.7, , 10.0.0.2', '10.0.0.2'],
    ['the peer, when the right-most hop is garbage', '203.0.113.7, unknown', '10.0.0.1'],
    ['the peer, when the right-most hop is empty', '203.0.113.7,', '10.0.0.1'],
    ['the peer, when the header is empty', '', '10.0.0.1'],
    ['without the port', '203.0.113.7:4711', '203.0.113.7'],
    ['without the port and brackets of IPv6', '[2001:db8::1]:4711', '2001:db8::1'],
    ['in canonical IPv6 form', '2001:DB8:0:0::7', '2001:db8::7'],
    ['as IPv4 when written as mapped IPv6', '::ffff:203.0.113.7', '203.0.113.7'],
    ['with surrounding whitespace trimmed', '  203.0.113.7  ,10.0.0.2 ', '203.0.113.7'],
  ])('makes the client %s (%j → %s)', (_name, xff, ip) => {
    expect(resolve(behindProxy, proxy, { 'x-forwarded-for': xff }).ip).toBe(ip);
  });

  test.each([
    ['a client-supplied line first', [['x-forwarded-for', '198.51.100.1'], ['x-forwarded-for', '203.0.113.7']], '203.0.113.7'],
    ['a trusted proxy line last', [['x-forwarded-for', '203.0.113.7'], ['x-forwarded-for', '10.0.0.2']], '203.0.113.7'],
    ['a client-supplied list first', [['x-forwarded-for', '127.0.0.1, 10.0.0.9'], ['x-forwarded-for', '203.0.113.7']], '203.0.113.7'],
  ])('reads several header lines as one list: %s', (_name, headers, ip) => {
    expect(resolve(behindProxy, proxy, headers as [string, string][]).ip).toBe(ip);
  });

  it('says the address was forwarded', () => {
    expect(resolve(behindProxy, proxy, { 'x-forwarded-for': '203.0.113.7' })).toEqual({
      ip: '203.0.113.7',
      scheme: 'http',
      forwarded: true,
      directLoopback: false,
      trustedPeer: true,
    });
  });

  it('says nothing was forwarded when the proxy sent no forwarding header', () => {
    expect(resolve(behindProxy, proxy)).toEqual({ ip: '10.0.0.1', scheme: 'http', forwarded: false, directLoopback: false, trustedPeer: true });
  });

  it('trusts a peer that connects with a mapped IPv6 socket address', () => {
    expect(resolve(behindProxy, { address: '::ffff:10.0.0.1' }, { 'x-forwarded-for': '203.0.113.7' }).ip).toBe('203.0.113.7');
  });

  test.each([
    ['2001:db8:1::5', '2001:db8:1::5'],
    ['203.0.113.7, 2001:db8::20', '203.0.113.7'],
    ['2001:db8:1::5, 2001:db8::20', '2001:db8:1::5'],
  ])('walks an IPv6 proxy chain: %j → %s', (xff, ip) => {
    const options = { trustedProxies: ['2001:db8::/48'] };
    expect(resolve(options, { address: '2001:db8::10' }, { 'x-forwarded-for': xff }).ip).toBe(ip);
  });

  it('does not let an IPv6 range trust an IPv4 peer', () => {
    expect(resolve({ trustedProxies: ['::/0'] }, { address: '10.0.0.1' }, { 'x-forwarded-for': '203.0.113.7' }).ip).toBe('10.0.0.1');
  });

  it('ignores Forwarded when the policy reads X-Forwarded-For', () => {
    expect(resolve(behindProxy, proxy, { forwarded: 'for=203.0.113.7;proto=https' })).toEqual({
      ip: '10.0.0.1',
      scheme: 'http',
      forwarded: false,
      directLoopback: false,
      trustedPeer: true,
    });
  });
});

describe('X-Forwarded-Proto from a trusted proxy', () => {
  test.each([
    ['https', 'https'],
    ['HTTPS', 'https'],
    [' https ', 'https'],
    ['https, https', 'https'],
    ['https,https', 'https'],
    ['http', 'http'],
    ['https, http', 'http'],
    ['http, https', 'http'],
    ['wss', 'http'],
    ['https;', 'http'],
    ['', 'http'],
    ['https, ', 'http'],
  ])('fails closed: %j is %s', (proto, scheme) => {
    expect(resolve(behindProxy, proxy, { 'x-forwarded-proto': proto }, HTTPS_URL).scheme).toBe(scheme);
  });

  it('reads several header lines as one list (any http makes it http)', () => {
    const headers: [string, string][] = [['x-forwarded-proto', 'https'], ['x-forwarded-proto', 'http']];
    expect(resolve(behindProxy, proxy, headers).scheme).toBe('http');
  });

  it('overrides an https socket when the proxy says the client used http', () => {
    expect(resolve(behindProxy, { ...proxy, scheme: 'https' }, { 'x-forwarded-proto': 'http' }).scheme).toBe('http');
  });

  it('counts as forwarding on its own, keeping the peer as the client', () => {
    expect(resolve(behindProxy, proxy, { 'x-forwarded-proto': 'https' })).toEqual({
      ip: '10.0.0.1',
      scheme: 'https',
      forwarded: true,
      directLoopback: false,
      trustedPeer: true,
    });
  });

  test.each([
    [HTTP_URL, 'http'],
    [HTTPS_URL, 'https'],
  ])('leaves the socket scheme when absent (%s → %s)', (url, scheme) => {
    expect(resolve(behindProxy, proxy, { 'x-forwarded-for': '203.0.113.7' }, url).scheme).toBe(scheme);
  });
});

describe('Forwarded from a trusted proxy', () => {
  test.each([
    ['for=203.0.113.7', '203.0.113.7'],
    ['For=203.0.113.7', '203.0.113.7'],
    ['for=198.51.100.1, for=203.0.113.7', '203.0.113.7'],
    ['for=127.0.0.1, for=203.0.113.7', '203.0.113.7'],
    ['for=203.0.113.7, for=10.0.0.2', '203.0.113.7'],
    ['for=203.0.113.7;proto=https;by=10.0.0.1', '203.0.113.7'],
    ['by=10.0.0.1; for=203.0.113.7', '203.0.113.7'],
    ['for="[2001:db8::1]:4711"', '2001:db8::1'],
    ['for="[2001:db8::1]"', '2001:db8::1'],
    ['for="[2001:db8::1]:_port"', '2001:db8::1'],
    ['for="203.0.113.7:4711"', '203.0.113.7'],
    ['for="[::ffff:203.0.113.7]"', '203.0.113.7'],
    ['for="[::ffff:cb00:7107]:80"', '203.0.113.7'],
    ['for="\\[2001:db8::1\\]:4711"', '2001:db8::1'],
    ['for=10.0.0.5, for=10.0.0.2', '10.0.0.5'],
    // A quoted value holds commas and quotes: they do not cut the elements the proxy appended.
    ['for=198.51.100.1;x="a, for=10.0.0.9", for=203.0.113.7', '203.0.113.7'],
    ['for=198.51.100.1;x="\\", for=10.0.0.9", for=203.0.113.7', '203.0.113.7'],
    ['for=198.51.100.1, , for=203.0.113.7', '203.0.113.7'],
    // Where the walk must stop at a hop it cannot read, the client is unidentifiable.
    ['for=unknown', 'unknown'],
    ['for=UNKNOWN', 'unknown'],
    ['for=_hidden', 'unknown'],
    ['for=203.0.113.7, for=_hidden', 'unknown'],
    ['for=203.0.113.7, for=unknown, for=10.0.0.2', 'unknown'],
    ['for=198.51.100.1, for=garbage, for=10.0.0.2', 'unknown'],
    ['for=203.0.113.7, proto=https', 'unknown'],
    ['by=127.0.0.1', 'unknown'],
    ['for="2001:db8::1"', 'unknown'],
    ['for="2001:db8::1:80"', 'unknown'],
    ['for="[2001:db8::1]:65536"', 'unknown'],
    ['for="[fe80::1%eth0]"', 'unknown'],
    ['for="203.0.113.7:http"', 'unknown'],
    // A header that breaks the grammar: nobody can tell where the client's part ends.
    ['for="203.0.113.7', 'unknown'],
    ['for=", for=203.0.113.7', 'unknown'],
    ['for=203.0.113.7;for=10.0.0.2', 'unknown'],
    ['for=[2001:db8::1]', 'unknown'],
    ['for = 203.0.113.7', 'unknown'],
    ['for=203.0.113.7 x', 'unknown'],
    ['', 'unknown'],
    [' , ', 'unknown'],
  ])('%j makes the client %s', (forwarded, ip) => {
    expect(resolve(behindForwardedProxy, proxy, { forwarded }).ip).toBe(ip);
  });

  // RFC 7239's own examples (§4, §6.3, §7.1, §7.4), behind one trusted proxy, and behind a chain
  // whose inner proxies are in 2001:db8:cafe::/48.
  const chainProxies: ClientIpOptions = { trustedProxies: ['10.0.0.0/8', '2001:db8:cafe::/48'], header: 'forwarded' };
  test.each([
    ['for="_gazonk"', 'unknown', 'unknown'],
    ['For="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17', '2001:db8:cafe::17'],
    ['for=192.0.2.60;proto=http;by=203.0.113.43', '192.0.2.60', '192.0.2.60'],
    ['for=192.0.2.43, for=198.51.100.17', '198.51.100.17', '198.51.100.17'],
    ['for=192.0.2.43, for="[2001:db8:cafe::17]"', '2001:db8:cafe::17', '192.0.2.43'],
    ['for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown', 'unknown', 'unknown'],
    ['for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown', 'unknown', 'unknown'],
    ['for=_hidden, for=_SEVKISEK', 'unknown', 'unknown'],
    ['for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com', '198.51.100.17', '198.51.100.17'],
  ])('RFC 7239 example %j: the client is %s behind one proxy, %s behind the chain', (forwarded, oneProxy, chain) => {
    expect(resolve(behindForwardedProxy, proxy, { forwarded }).ip).toBe(oneProxy);
    expect(resolve(chainProxies, proxy, { forwarded }).ip).toBe(chain);
  });

  test.each([
    ['for=203.0.113.7;host=api.example.com', 'api.example.com'],
    ['for=203.0.113.7;host="API.Example.com:8443"', 'api.example.com:8443'],
    ['for=203.0.113.7;host="[2001:db8::1]:8443"', '[2001:db8::1]:8443'],
    ['for=203.0.113.7;host=api.example.com, for=10.0.0.2;host=internal.local', 'api.example.com'],
    ['for=unknown;host=api.example.com', 'api.example.com'],
    ['for=198.51.100.1;host=evil.example, for=203.0.113.7', undefined],
    ['for=203.0.113.7', undefined],
    ['for=203.0.113.7;host="a/b"', undefined],
    ['for=203.0.113.7;host="api.example.com:99999"', undefined],
    ['for=203.0.113.7;host="[zz]"', undefined],
  ])('%j records the forwarded host %s, from the element that names the client only', (forwarded, host) => {
    expect(resolve(behindForwardedProxy, proxy, { forwarded }).forwardedHost).toBe(host);
  });

  it('records no forwarded host from an untrusted peer', () => {
    expect(resolve(behindForwardedProxy, { address: '203.0.113.9' }, { forwarded: 'for=203.0.113.7;host=api.example.com' }).forwardedHost).toBeUndefined();
  });

  it('reads several header lines as one list', () => {
    const headers: [string, string][] = [['forwarded', 'for=198.51.100.1'], ['forwarded', 'for=203.0.113.7']];
    expect(resolve(behindForwardedProxy, proxy, headers).ip).toBe('203.0.113.7');
  });

  test.each([
    ['for=203.0.113.7;proto=https', 'https'],
    ['for=203.0.113.7;proto=HTTPS', 'https'],
    ['for=203.0.113.7;proto="https"', 'https'],
    ['for=198.51.100.1;proto=https, for=203.0.113.7;proto=https', 'https'],
    ['for=203.0.113.7;proto=https, for=10.0.0.2;proto=http', 'http'],
    ['for=203.0.113.7;proto=https, proto=http', 'http'],
    ['for=203.0.113.7;proto=ftp', 'http'],
    ['for=203.0.113.7;proto=', 'http'],
    ['for="203.0.113.7;proto=https', 'http'],
  ])('fails closed on the scheme: %j is %s', (forwarded, scheme) => {
    expect(resolve(behindForwardedProxy, proxy, { forwarded }, HTTPS_URL).scheme).toBe(scheme);
  });

  test.each([
    ['an https claim in its own element, which the proxy did not confirm', 'for=198.51.100.1;proto=https, for=203.0.113.7', HTTP_URL, 'http'],
    ['an http claim in its own element, left of what the proxy wrote', 'for=198.51.100.1;proto=http, for=203.0.113.7;proto=https', HTTP_URL, 'https'],
  ])('takes the scheme from what trusted proxies wrote, not from the client: %s', (_name, forwarded, url, scheme) => {
    expect(resolve(behindForwardedProxy, proxy, { forwarded }, url).scheme).toBe(scheme);
  });

  it('leaves the socket scheme when no element names a proto', () => {
    expect(resolve(behindForwardedProxy, proxy, { forwarded: 'for=203.0.113.7' }, HTTPS_URL).scheme).toBe('https');
  });

  it('ignores X-Forwarded-For and X-Forwarded-Proto when the policy reads Forwarded', () => {
    expect(resolve(behindForwardedProxy, proxy, { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' })).toEqual({
      ip: '10.0.0.1',
      scheme: 'http',
      forwarded: false,
      directLoopback: false,
      trustedPeer: true,
    });
  });
});

describe('directLoopback behind a trusted loopback proxy', () => {
  const local: ClientIpOptions = { trustedProxies: ['loopback'] };
  const localForwarded: ClientIpOptions = { trustedProxies: ['loopback'], header: 'forwarded' };

  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
  ])('is true for %s with no forwarding header', (address, ip) => {
    expect(resolve(local, { address })).toEqual({ ip, scheme: 'http', forwarded: false, directLoopback: true, trustedPeer: true });
  });

  test.each([
    ['a forwarded remote client', local, { 'x-forwarded-for': '203.0.113.7' }, '203.0.113.7'],
    ['a local client through the local proxy', local, { 'x-forwarded-for': '127.0.0.1' }, '127.0.0.1'],
    ['an unreadable X-Forwarded-For hop', local, { 'x-forwarded-for': 'unknown' }, '127.0.0.1'],
    ['an empty X-Forwarded-For', local, { 'x-forwarded-for': '' }, '127.0.0.1'],
    ['X-Forwarded-Proto alone', local, { 'x-forwarded-proto': 'https' }, '127.0.0.1'],
    ['Forwarded: for=unknown', localForwarded, { forwarded: 'for=unknown' }, 'unknown'],
    ['Forwarded: for=_hidden', localForwarded, { forwarded: 'for=_hidden' }, 'unknown'],
    ['Forwarded without for', localForwarded, { forwarded: 'by=127.0.0.1' }, 'unknown'],
    ['Forwarded naming a local client', localForwarded, { forwarded: 'for=127.0.0.1' }, '127.0.0.1'],
  ])('is false with %s', (_name, options, headers, ip) => {
    const client = resolve(options, { address: '127.0.0.1' }, headers);
    expect(client.ip).toBe(ip);
    expect(client.directLoopback).toBe(false);
  });

  it('is false for a trusted proxy that is not loopback', () => {
    expect(resolve(behindProxy, proxy).directLoopback).toBe(false);
  });
});

describe('CF-Connecting-IP', () => {
  const cloudflare: Peer = { platform: 'cloudflare' };

  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['2001:DB8::7', '2001:db8::7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
  ])('is the client on Cloudflare when the policy trusts cloudflare (%s → %s)', (header, ip) => {
    expect(resolve({ trustedProxies: ['cloudflare'] }, cloudflare, { 'cf-connecting-ip': header }, HTTPS_URL)).toEqual({
      ip,
      scheme: 'https',
      forwarded: true,
      directLoopback: false,
    });
  });

  test.each([
    ['missing', {}],
    ['garbage', { 'cf-connecting-ip': 'garbage' }],
    ['a list', { 'cf-connecting-ip': '198.51.100.1, 203.0.113.7' }],
  ])('leaves the client unknown on Cloudflare when it is %s', (_name, headers) => {
    expect(resolve({ trustedProxies: ['cloudflare'] }, cloudflare, headers)).toEqual({
      ip: 'unknown',
      scheme: 'http',
      forwarded: false,
      directLoopback: false,
    });
  });

  it('is ignored on Cloudflare when the policy does not trust cloudflare', () => {
    expect(resolve({ trustedProxies: ['loopback'] }, cloudflare, { 'cf-connecting-ip': '203.0.113.7' }).ip).toBe('unknown');
  });

  it('is ignored on Cloudflare when the policy does not trust cloudflare, leaving the socket address', () => {
    expect(resolve({}, { ...cloudflare, address: '198.51.100.9' }, { 'cf-connecting-ip': '203.0.113.7' }).ip).toBe('198.51.100.9');
  });

  it('is ignored off Cloudflare even when the policy trusts cloudflare', () => {
    expect(resolve({ trustedProxies: ['cloudflare'] }, { address: '198.51.100.9' }, { 'cf-connecting-ip': '203.0.113.7' })).toEqual({
      ip: '198.51.100.9',
      scheme: 'http',
      forwarded: false,
      directLoopback: false,
    });
  });

  it('is ignored off Cloudflare behind a trusted proxy, which is read from X-Forwarded-For', () => {
    const options = { trustedProxies: ['cloudflare', 'loopback'] };
    expect(resolve(options, { address: '127.0.0.1' }, { 'cf-connecting-ip': '203.0.113.7' }).ip).toBe('127.0.0.1');
    expect(resolve(options, { address: '127.0.0.1' }, { 'cf-connecting-ip': '203.0.113.7', 'x-forwarded-for': '198.51.100.1' }).ip).toBe(
      '198.51.100.1',
    );
  });

  it('does not make X-Forwarded-For or X-Forwarded-Proto believed on Cloudflare', () => {
    const headers = { 'cf-connecting-ip': '203.0.113.7', 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'http' };
    expect(resolve({ trustedProxies: ['cloudflare'] }, cloudflare, headers, HTTPS_URL)).toEqual({
      ip: '203.0.113.7',
      scheme: 'https',
      forwarded: true,
      directLoopback: false,
    });
  });
});
