/**
 * Properties of the client IP parser and the forwarding-header resolver: nothing throws, every
 * spelling of one address is one client, the canonical spelling is stable (and is the one WHATWG URL
 * serializes), and forwarding headers from peers that are not trusted proxies change nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileClientResolver, type Peer } from '../../src/client.ts';
import { canonicalIp, formatIp, parseIp } from '../../src/ip.ts';
import { runs } from './settings.ts';

const octets = (value: number) => [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
const dotted = (value: number) => octets(value).join('.');

/** A 16-bit group in hex, with 0–3 leading zeros and either case. */
const hexGroup = (group: number) =>
  fc
    .tuple(fc.integer({ min: group.toString(16).length, max: 4 }), fc.boolean())
    .map(([width, upper]) => {
      const hex = group.toString(16).padStart(width, '0');
      return upper ? hex.toUpperCase() : hex;
    });

/** IPv6 text for eight groups: any run of zero groups compressed (or none), the last 32 bits dotted or not. */
function ipv6Text(groups: number[]): fc.Arbitrary<string> {
  return fc.boolean().chain((dottedTail) => {
    const hexCount = dottedTail ? 6 : 8;
    const zeroRuns: [number, number][] = [[0, 0]];
    for (let i = 0; i < hexCount; i++) for (let j = i + 1; j <= hexCount && groups[j - 1] === 0; j++) zeroRuns.push([i, j]);
    return fc.tuple(fc.tuple(...groups.slice(0, hexCount).map(hexGroup)), fc.constantFrom(...zeroRuns)).map(([hex, [from, to]]) => {
      const tokens: string[] = [...hex];
      if (dottedTail) tokens.push(dotted(groups[6]! * 0x10000 + groups[7]!));
      if (from === to) return tokens.join(':');
      return `${tokens.slice(0, from).join(':')}::${tokens.slice(to).join(':')}`;
    });
  });
}

const port = fc.integer({ min: 0, max: 65535 });
const zone = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/);

/** How an IPv6 address appears on the wire: plain, with a zone, bracketed, bracketed with a port. */
const wireIpv6 = (text: string) =>
  fc.oneof(
    fc.constant(text),
    zone.map((id) => `${text}%${id}`),
    fc.constant(`[${text}]`),
    port.map((n) => `[${text}]:${n}`),
  );

/** Every spelling of an IPv4 address: dotted, with a port, IPv4-mapped IPv6 in all its forms. */
const ipv4Spellings = (value: number) =>
  fc.oneof(
    fc.constant(dotted(value)),
    port.map((n) => `${dotted(value)}:${n}`),
    ipv6Text([0, 0, 0, 0, 0, 0xffff, value >>> 16, value & 0xffff]).chain(wireIpv6),
  );

/** A 128-bit address as eight groups, biased towards zero runs (so `::` has work to do). */
const ipv6Groups = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xf })), {
  minLength: 8,
  maxLength: 8,
});
const isMapped = (groups: number[]) => groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;

/** Text shaped like addresses, to find the corners of the parser. */
const ipSoup = fc
  .array(fc.constantFrom('::', ':', '.', '[', ']', '%', 'ffff', 'FFFF', '0', '1', '255', '256', '00', '1.2.3.4', 'g', ' ', '\t', '65535', '65536', 'eth0', '%25'), {
    maxLength: 14,
  })
  .map((pieces) => pieces.join(''));
const anyText = fc.oneof(ipSoup, fc.string({ unit: 'binary', maxLength: 50 }), fc.ipV4Extended(), fc.ipV6());

describe('canonicalIp', () => {
  it('never throws, and its answer is a fixed point that parses to the same address', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const canonical = canonicalIp(text);
        if (canonical === undefined) return;
        expect(canonicalIp(canonical)).toBe(canonical);
        expect(parseIp(canonical)).toEqual(parseIp(text));
      }),
      runs(5000),
    );
  });

  it('gives every spelling of an IPv4 address (port, mapped, bracketed, expanded, upper case, zone) the dotted quad', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }).chain((value) => fc.tuple(fc.constant(value), ipv4Spellings(value))),
        ([value, spelling]) => {
          expect(canonicalIp(spelling)).toBe(dotted(value));
          expect(new URL(`http://${dotted(value)}/`).hostname).toBe(dotted(value));
        },
      ),
      runs(3000),
    );
  });

  it('gives every spelling of an IPv6 address one canonical form: the one WHATWG URL serializes (RFC 5952)', () => {
    fc.assert(
      fc.property(
        ipv6Groups.filter((groups) => !isMapped(groups)).chain((groups) => fc.tuple(ipv6Text(groups), ipv6Text(groups).chain(wireIpv6))),
        ([plain, spelling]) => {
          const canonical = canonicalIp(spelling);
          expect(canonical).toBeDefined();
          expect(canonicalIp(plain)).toBe(canonical);
          expect(new URL(`http://[${plain}]/`).hostname).toBe(`[${canonical}]`);
        },
      ),
      runs(3000),
    );
  });

  it('formats parsed values back to text that parses to the same value', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const address = parseIp(text)!;
        expect(address).toBeDefined();
        expect(parseIp(formatIp(address))).toEqual(address);
      }),
      runs(2000),
    );
  });
});

describe('compileClientResolver', () => {
  const TRUSTED = ['loopback', '10.0.0.0/8', '2001:db8::/32'];

  /** Addresses outside every trusted range, in any spelling, and their canonical form. */
  const untrustedPeer = fc
    .oneof(
      fc.integer({ min: 0, max: 0xffffffff }).chain((value) => fc.tuple(fc.constant(dotted(value)), ipv4Spellings(value))),
      ipv6Groups.filter((groups) => !isMapped(groups)).chain((groups) => fc.tuple(ipv6Text(groups), ipv6Text(groups).chain(wireIpv6))),
    )
    .map(([plain, spelling]) => ({ canonical: canonicalIp(plain)!, spelling }))
    .filter(({ canonical }) => !/^(10|127)\./.test(canonical) && canonical !== '::1' && !canonical.startsWith('2001:db8:'));

  /** Header values a client may send: address lists, RFC 7239 elements, and junk. */
  const headerValue = fc.oneof(
    fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('127.0.0.1', '10.1.2.3', '::1', 'unknown', '_hidden', '')), { maxLength: 5 }).map((hops) => hops.join(', ')),
    fc.array(fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6().map((ip) => `"[${ip}]"`)), fc.constantFrom('http', 'https', 'HTTPS')), { maxLength: 4 }).map((elements) =>
      elements.map(([hop, proto]) => `for=${hop};proto=${proto}`).join(', '),
    ),
    fc.constantFrom('http', 'https', 'https, http', 'wss'),
    fc.string({ unit: fc.constantFrom(...' \t!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFabcdef[\\]^_`{|}~'), maxLength: 40 }),
  );
  const forwarding = fc.record(
    {
      'x-forwarded-for': headerValue,
      'x-forwarded-proto': headerValue,
      forwarded: headerValue,
      'cf-connecting-ip': headerValue,
      'x-real-ip': headerValue,
    },
    { requiredKeys: [] },
  );
  const headersOf = (record: Record<string, string>) => new Headers(Object.entries(record));
  const urls = fc.constantFrom('http://api.test/', 'https://api.test/');

  it('never throws, whatever the peer and headers, and always names a canonical address or "unknown"', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x-forwarded-for' as const, 'forwarded' as const),
        fc.option(anyText, { nil: undefined }),
        fc.constantFrom<Peer['platform']>(undefined, 'cloudflare'),
        forwarding,
        urls,
        (header, address, platform, headers, url) => {
          const resolve = compileClientResolver({ trustedProxies: [...TRUSTED, 'cloudflare'], header });
          const client = resolve(headersOf(headers), { address, platform }, url);
          expect(client.ip === 'unknown' || canonicalIp(client.ip) === client.ip).toBe(true);
        },
      ),
      runs(3000),
    );
  });

  it('ignores every forwarding header from a peer that is not a trusted proxy', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x-forwarded-for' as const, 'forwarded' as const),
        untrustedPeer,
        fc.constantFrom<Peer['platform']>(undefined, 'cloudflare'),
        forwarding,
        urls,
        (header, peer, platform, headers, url) => {
          // On Workers only `cloudflare` makes CF-Connecting-IP believable; it is not on this list.
          const resolve = compileClientResolver({ trustedProxies: TRUSTED, header });
          const plain = resolve(new Headers(), { address: peer.spelling, platform }, url);
          expect(resolve(headersOf(headers), { address: peer.spelling, platform }, url)).toEqual(plain);
          expect(plain).toMatchObject({ ip: peer.canonical, forwarded: false, directLoopback: false });
        },
      ),
      runs(3000),
    );
  });

  it('resolves every spelling of the peer address to the same client', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }).chain((value) => fc.tuple(fc.constant(dotted(value)), ipv4Spellings(value), ipv4Spellings(value))),
        forwarding,
        urls,
        ([, one, other], headers, url) => {
          const resolve = compileClientResolver({ trustedProxies: TRUSTED });
          expect(resolve(headersOf(headers), { address: one }, url)).toEqual(resolve(headersOf(headers), { address: other }, url));
        },
      ),
      runs(2000),
    );
  });

  it('behind a trusted proxy, takes the right-most untrusted hop: whatever the client prepends changes nothing', () => {
    fc.assert(
      fc.property(untrustedPeer, headerValue, fc.array(fc.constantFrom('10.0.0.1', '10.9.8.7', '::1', '127.0.0.2'), { maxLength: 3 }), (client, prefix, proxies) => {
        const resolve = compileClientResolver({ trustedProxies: TRUSTED });
        const chain = [client.spelling, ...proxies].join(', ');
        const honest = resolve(new Headers({ 'x-forwarded-for': chain }), { address: '127.0.0.1' }, 'http://api.test/');
        const spoofed = resolve(new Headers({ 'x-forwarded-for': `${prefix}, ${chain}` }), { address: '127.0.0.1' }, 'http://api.test/');
        expect(honest).toMatchObject({ ip: client.canonical, forwarded: true, directLoopback: false });
        expect(spoofed).toEqual(honest);
      }),
      runs(2000),
    );
  });
  it('behind a trusted proxy that appends to Forwarded, whatever the client wrote before names the client or nobody, never someone else', () => {
    const clientText = fc.oneof(
      headerValue,
      fc.string({ unit: fc.constantFrom(...'"\\,;= for_[]:.0123456789abcdefunknown'.split('')), maxLength: 40 }),
    );
    fc.assert(
      fc.property(untrustedPeer, clientText, fc.boolean(), (client, prefix, quoted) => {
        const resolve = compileClientResolver({ trustedProxies: TRUSTED, header: 'forwarded' });
        const node = client.canonical.includes(':') ? `"[${client.canonical}]"` : quoted ? `"${client.canonical}:443"` : client.canonical;
        // Two header lines: the client's, then the proxy's; a Headers object joins them with ", ".
        const headers = new Headers([['forwarded', prefix], ['forwarded', `for=${node};proto=https`]]);
        const resolved = resolve(headers, { address: '127.0.0.1' }, 'http://api.test/');
        expect([client.canonical, 'unknown']).toContain(resolved.ip);
        if (resolved.ip === 'unknown') expect(resolved.scheme).toBe('http');
        expect(resolved.directLoopback).toBe(false);
      }),
      runs(3000),
    );
  });
});
