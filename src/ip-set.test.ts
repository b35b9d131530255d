import { describe, expect, it } from 'vitest';
import { parseIp, parseRange } from './ip.ts';
import { compileIpSet } from './ip-set.ts';

const setOf = (...entries: string[]) => compileIpSet(entries.map((entry) => parseRange(entry)!));
const has = (set: ReturnType<typeof setOf>, address: string) => set.has(parseIp(address)!);

describe('compileIpSet', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '9.255.255.255', false],
    ['192.0.2.7', '192.0.2.7', true],
    ['192.0.2.7', '192.0.2.8', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::', false],
    ['::1', '::1', true],
    ['::/0', '2001:db8::1', true],
    // The IPv4-mapped spelling is the IPv4 address, both in ranges and in addresses.
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
  ])('%s contains %s: %s', (range, address, expected) => {
    expect(has(setOf(range), address)).toBe(expected);
  });

  it('keeps the families apart: ::/0 holds no IPv4 address, 0.0.0.0/0 no IPv6 one', () => {
    expect(has(setOf('::/0'), '10.0.0.1')).toBe(false);
    expect(has(setOf('0.0.0.0/0'), '2001:db8::1')).toBe(false);
  });

  it('merges overlapping and adjacent ranges and still finds every edge', () => {
    const set = setOf('10.0.0.0/24', '10.0.1.0/24', '10.0.0.128/25', '10.0.3.0/24', '2001:db8::/48', '2001:db8:1::/48');
    for (const inside of ['10.0.0.0', '10.0.1.255', '10.0.0.200', '10.0.3.0', '10.0.3.255', '2001:db8:1:ffff::1']) expect(has(set, inside)).toBe(true);
    for (const outside of ['10.0.2.0', '10.0.2.255', '10.0.4.0', '9.255.255.255', '2001:db8:2::']) expect(has(set, outside)).toBe(false);
  });

  it('answers like a linear scan over a thousand random ranges', () => {
    const ranges = Array.from({ length: 1000 }, (_, i) => {
      const bits = 8 + (i % 25);
      const base = (Math.floor(Math.random() * 2 ** 32) >>> (32 - bits)) * 2 ** (32 - bits);
      return parseRange(`${[24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.')}/${bits}`)!;
    });
    const set = compileIpSet(ranges);
    for (let i = 0; i < 2000; i++) {
      const value = BigInt(Math.floor(Math.random() * 2 ** 32));
      const address = { family: 4 as const, value };
      const linear = ranges.some((range) => value >> BigInt(32 - range.bits) === range.base >> BigInt(32 - range.bits));
      expect(set.has(address)).toBe(linear);
    }
  });
});
