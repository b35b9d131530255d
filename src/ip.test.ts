import { describe, expect, it, test } from 'vitest';
import { canonicalIp, formatIp, inRange, isLoopback, parseIp, parseRange, type IpAddress, type IpRange } from './ip.ts';

/** The parsed address (the test fails if the text is not one). */
function address(text: string): IpAddress {
  return parseIp(text) ?? expect.unreachable(`parseIp refused ${JSON.stringify(text)}`);
}

/** The parsed range (the test fails if the text is not one). */
function range(text: string): IpRange {
  return parseRange(text) ?? expect.unreachable(`parseRange refused ${JSON.stringify(text)}`);
}

describe('parseIp', () => {
  test.each([
    ['1.2.3.4', { family: 4, value: 0x01020304n }],
    ['0.0.0.0', { family: 4, value: 0n }],
    ['255.255.255.255', { family: 4, value: 0xffffffffn }],
    ['::ffff:1.2.3.4', { family: 4, value: 0x01020304n }],
    ['::ffff:102:304', { family: 4, value: 0x01020304n }],
    ['::1', { family: 6, value: 1n }],
    ['::', { family: 6, value: 0n }],
    ['2001:db8::1', { family: 6, value: (0x20010db8n << 96n) | 1n }],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', { family: 6, value: (1n << 128n) - 1n }],
  ])('reads %s as %o', (text, expected) => {
    expect(parseIp(text)).toEqual(expected);
  });

  it('reads an IPv4-mapped IPv6 address as the IPv4 address, not as an IPv6 one', () => {
    expect(parseIp('::ffff:203.0.113.7')).toEqual(parseIp('203.0.113.7'));
    expect(parseIp('[::ffff:cb00:7107]:443')).toEqual(parseIp('203.0.113.7'));
  });
});

describe('canonicalIp', () => {
  describe('gives one spelling per address', () => {
    test.each([
      // IPv4, with the decorations it arrives with.
      ['1.2.3.4', '1.2.3.4'],
      [' 1.2.3.4 ', '1.2.3.4'],
      ['1.2.3.4:8080', '1.2.3.4'],
      ['1.2.3.4:0', '1.2.3.4'],
      ['1.2.3.4:65535', '1.2.3.4'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      // IPv4-mapped IPv6 is the IPv4 address, in every spelling.
      ['::ffff:1.2.3.4', '1.2.3.4'],
      ['::FFFF:1.2.3.4', '1.2.3.4'],
      ['::ffff:102:304', '1.2.3.4'],
      ['0:0:0:0:0:ffff:0102:0304', '1.2.3.4'],
      ['0000:0000:0000:0000:0000:ffff:255.255.255.255', '255.255.255.255'],
      ['[::ffff:1.2.3.4]:443', '1.2.3.4'],
      ['[::ffff:1.2.3.4]', '1.2.3.4'],
      ['::ffff:7f00:1', '127.0.0.1'],
      ['::ffff:0.0.0.0', '0.0.0.0'],
      // IPv6: RFC 5952.
      ['2001:DB8:0:0::1', '2001:db8::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
      ['[2001:db8::1]:443', '2001:db8::1'],
      ['[2001:db8::1]', '2001:db8::1'],
      [' [2001:db8::1]:443 ', '2001:db8::1'],
      ['::', '::'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['1::', '1::'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
      ['1:0:2:0:0:0:3:0', '1:0:2::3:0'],
      ['0:0:1:0:0:0:0:0', '0:0:1::'],
      // Zone ids are stripped.
      ['fe80::1%eth0', 'fe80::1'],
      ['fe80::1%2', 'fe80::1'],
      ['[fe80::1%eth0]:443', 'fe80::1'],
      // An embedded IPv4 tail that is not the mapped prefix stays IPv6.
      ['::1.2.3.4', '::102:304'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['::ffff:0:1.2.3.4', '::ffff:0:102:304'],
      ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ])('spells %j as %j', (input, canonical) => {
      expect(canonicalIp(input)).toBe(canonical);
    });
  });

  // RFC 5952's own examples: the spellings of sections 2.1 to 2.4 and the rules of section 4,
  // each with the recommended text representation the RFC gives for it.
  test.each([
    // 2.1 and 4.2.3: the longest run of zeros is shortened, the first of two equal runs.
    ...['2001:db8:0:0:1:0:0:1', '2001:0db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', '2001:db8::0:1:0:0:1', '2001:0db8::1:0:0:1', '2001:db8:0:0:1::1', '2001:db8:0000:0:1::1', '2001:DB8:0:0:1::1'].map(
      (spelling) => [spelling, '2001:db8::1:0:0:1'],
    ),
    // 2.2 and 4.1: leading zeros dropped; 4.2.2: one 16-bit 0 field is not shortened.
    ...['2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:01'].map((spelling) => [
      spelling,
      '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1',
    ]),
    ['2001:db8:aaaa:bbbb:cccc:dddd::1', '2001:db8:aaaa:bbbb:cccc:dddd:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // 2.3 and 4.2.1: "::" shortens as much as possible.
    ...['2001:db8:0:0:0::1', '2001:db8:0:0::1', '2001:db8:0::1', '2001:db8::1', '2001:db8:0:0:0:0:0:1'].map((spelling) => [spelling, '2001:db8::1']),
    ['2001:db8::aaaa:0:0:1', '2001:db8::aaaa:0:0:1'],
    ['2001:db8:0:0:aaaa::1', '2001:db8::aaaa:0:0:1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // 4.2.3: of two runs, the longer one.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    // 2.4 and 4.3: lower case.
    ...['2001:db8::aaaa', '2001:db8::AAAA', '2001:db8::AaAa'].map((spelling) => [spelling, '2001:db8::aaaa']),
  ])('spells %j as RFC 5952 recommends: %j', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  test.each([
    ['1.2.3.4'],
    ['::ffff:1.2.3.4'],
    ['2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1'],
    ['::'],
    ['fe80::1%eth0'],
  ])('is idempotent on %j', (input) => {
    const once = canonicalIp(input)!;
    expect(canonicalIp(once)).toBe(once);
  });

  describe('rejects what is not an address', () => {
    test.each([
      // Empty and blank.
      [''],
      [' '],
      ['\t'],
      // IPv4 shapes that some parsers accept and others read differently.
      ['1.2.3'],
      ['1.2.3.4.5'],
      ['256.1.1.1'],
      ['1.2.3.256'],
      ['01.2.3.4'],
      ['1.2.3.04'],
      ['00.0.0.0'],
      ['0x7f.0.0.1'],
      ['127.1'],
      ['2130706433'],
      ['1..2.3'],
      ['.1.2.3'],
      ['1.2.3.'],
      ['-1.2.3.4'],
      ['+1.2.3.4'],
      ['1 .2.3.4'],
      ['١.٢.٣.٤'],
      // Ports that are not ports.
      ['1.2.3.4:'],
      ['1.2.3.4:65536'],
      ['1.2.3.4:99999'],
      ['1.2.3.4:-1'],
      ['1.2.3.4:http'],
      ['1.2.3.4:80:80'],
      ['[::1]:'],
      ['[::1]:65536'],
      ['[::1]x'],
      ['[::1]]'],
      ['[[::1]]'],
      ['[::1'],
      ['::1]'],
      // Brackets and zones belong to IPv6.
      ['[1.2.3.4]'],
      ['[1.2.3.4]:80'],
      ['1.2.3.4%eth0'],
      ['fe80::1%'],
      ['fe80::1%eth 0'],
      ['fe80::1%eth0%1'],
      // IPv6 shapes.
      ['1::2::3'],
      [':::'],
      ['::::'],
      [':'],
      ['gggg::'],
      ['12345::'],
      ['1:2:3:4:5:6:7'],
      ['1:2:3:4:5:6:7:8:9'],
      ['1:2:3:4:5:6:7:8::'],
      ['::1:2:3:4:5:6:7:8'],
      [':1::'],
      ['1::2:'],
      ['1:'],
      [':1'],
      ['1.2.3.4::'],
      ['1.2.3.4::1'],
      ['::1.2.3.4:5'],
      ['::ffff:1.2.3'],
      ['::ffff:256.1.1.1'],
      ['::ffff:01.2.3.4'],
      ['::ffff:1.2.3.4.5'],
      ['1:2:3:4:5:6:7:1.2.3.4'],
      // Things that arrive in forwarding headers instead of an address.
      ['2001:db8::/32'],
      ['localhost'],
      ['unknown'],
      ['_hidden'],
    ])('%j', (input) => {
      expect(parseIp(input)).toBeUndefined();
      expect(canonicalIp(input)).toBeUndefined();
    });
  });
});

describe('formatIp', () => {
  test.each([
    [{ family: 4, value: 0n } as const, '0.0.0.0'],
    [{ family: 4, value: 0xc0000201n } as const, '192.0.2.1'],
    [{ family: 6, value: 0n } as const, '::'],
    [{ family: 6, value: 0xffffn << 112n } as const, 'ffff::'],
    [{ family: 6, value: (0x20010db8n << 96n) | (1n << 48n) | 1n } as const, '2001:db8::1:0:0:1'],
  ])('spells %o as %j', (input, spelling) => {
    expect(formatIp(input)).toBe(spelling);
  });
});

describe('parseRange', () => {
  test.each([
    ['10.0.0.0/8', { family: 4, base: 0x0a000000n, bits: 8 }],
    ['0.0.0.0/0', { family: 4, base: 0n, bits: 0 }],
    ['128.0.0.0/1', { family: 4, base: 0x80000000n, bits: 1 }],
    ['1.2.3.4/32', { family: 4, base: 0x01020304n, bits: 32 }],
    ['1.2.3.4', { family: 4, base: 0x01020304n, bits: 32 }],
    ['2001:db8::/32', { family: 6, base: 0x20010db8n << 96n, bits: 32 }],
    ['2001:DB8:0::/32', { family: 6, base: 0x20010db8n << 96n, bits: 32 }],
    ['::/0', { family: 6, base: 0n, bits: 0 }],
    ['::1', { family: 6, base: 1n, bits: 128 }],
    ['::1/128', { family: 6, base: 1n, bits: 128 }],
    // A mapped range is the IPv4 range, its prefix counted from the IPv4 part.
    ['::ffff:10.0.0.0/104', { family: 4, base: 0x0a000000n, bits: 8 }],
    ['::ffff:0:0/96', { family: 4, base: 0n, bits: 0 }],
    ['::ffff:1.2.3.4', { family: 4, base: 0x01020304n, bits: 32 }],
  ])('reads %j as %o', (input, expected) => {
    expect(parseRange(input)).toEqual(expected);
  });

  test.each([
    // Host bits set: the author meant a different range than the one written.
    ['10.0.0.1/8'],
    ['2001:db8::1/32'],
    ['::ffff:10.0.0.1/104'],
    ['128.0.0.0/0'],
    // Prefix lengths out of range or misspelled.
    ['10.0.0.0/33'],
    ['2001:db8::/129'],
    ['::ffff:0:0/95'],
    ['10.0.0.0/-1'],
    ['10.0.0.0/'],
    ['10.0.0.0/08'],
    ['10.0.0.0/8.0'],
    ['10.0.0.0/0x8'],
    ['10.0.0.0/1000'],
    ['10.0.0.0/8/8'],
    ['/8'],
    // Whitespace, ports, brackets and zones are typos in a range.
    ['10.0.0.0/ 8'],
    [' 10.0.0.0/8'],
    ['10.0.0.0/8 '],
    [' 10.0.0.1'],
    ['10.0.0.1:8080'],
    ['10.0.0.0:80/8'],
    ['[::1]'],
    ['[::1]/128'],
    ['fe80::1%eth0'],
    ['fe80::%eth0/64'],
    // Not addresses at all.
    [''],
    ['*'],
    ['localhost'],
    ['1.2.3'],
    ['01.2.3.4'],
  ])('refuses %j', (input) => {
    expect(parseRange(input)).toBeUndefined();
  });
});

describe('inRange', () => {
  test.each([
    ['10.0.0.0', '10.0.0.0/8', true],
    ['10.255.255.255', '10.0.0.0/8', true],
    ['11.0.0.0', '10.0.0.0/8', false],
    ['9.255.255.255', '10.0.0.0/8', false],
    ['1.2.3.4', '0.0.0.0/0', true],
    ['128.0.0.0', '128.0.0.0/1', true],
    ['127.255.255.255', '128.0.0.0/1', false],
    ['1.2.3.4', '1.2.3.4', true],
    ['1.2.3.5', '1.2.3.4', false],
    ['2001:db8::', '2001:db8::/32', true],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::/32', true],
    ['2001:db9::', '2001:db8::/32', false],
    ['2001:db7:ffff::', '2001:db8::/32', false],
    ['::1', '::1', true],
    ['::2', '::1', false],
    ['2001:db8::1', '::/0', true],
    // An IPv4 address is never in an IPv6 range, nor the other way round...
    ['10.1.2.3', '::/0', false],
    ['2001:db8::1', '0.0.0.0/0', false],
    ['::a01:203', '10.0.0.0/8', false],
    // ...except mapped addresses, which are IPv4.
    ['::ffff:10.1.2.3', '10.0.0.0/8', true],
    ['[::ffff:a01:203]:443', '10.0.0.0/8', true],
    ['10.1.2.3', '::ffff:10.0.0.0/104', true],
    ['11.1.2.3', '::ffff:10.0.0.0/104', false],
    ['::ffff:1.2.3.4', '::ffff:0:0/96', true],
    ['::ffff:1.2.3.4', '::/0', false],
    ['2001:db8::1', '::ffff:0:0/96', false],
  ])('%s in %s is %s', (addressText, rangeText, expected) => {
    expect(inRange(address(addressText), range(rangeText))).toBe(expected);
  });
});

describe('isLoopback', () => {
  test.each([
    ['127.0.0.1'],
    ['127.0.0.0'],
    ['127.1.2.3'],
    ['127.255.255.255'],
    ['127.0.0.1:8080'],
    ['::1'],
    ['[::1]:8080'],
    ['0:0:0:0:0:0:0:1'],
    ['::ffff:127.0.0.1'],
    ['::ffff:7f00:1'],
  ])('is true for %j', (text) => {
    expect(isLoopback(address(text))).toBe(true);
  });

  test.each([
    ['126.255.255.255'],
    ['128.0.0.1'],
    ['0.0.0.0'],
    ['10.0.0.1'],
    ['::'],
    ['::2'],
    ['fe80::1'],
    // IPv4-compatible (deprecated) is IPv6, not the IPv4 loopback.
    ['::127.0.0.1'],
    ['::ffff:128.0.0.1'],
  ])('is false for %j', (text) => {
    expect(isLoopback(address(text))).toBe(false);
  });
});
