/**
 * A set of CIDR ranges compiled once for a fast membership check: per address family, the ranges
 * become sorted, merged intervals, and a lookup is a binary search — a thousand ranges cost about
 * ten comparisons, not a thousand. And what is wrong with a policy's CIDR entry, said precisely.
 * @module
 */

import { parseRange, type IpAddress, type IpRange } from './ip.ts';

/** A compiled set of ranges. */
export interface IpSet {
  /** Is the address inside one of the ranges? */
  has(address: IpAddress): boolean;
  /** How many ranges went in. */
  readonly size: number;
}

/** Sorted, non-overlapping [start, end] intervals; adjacent and overlapping ranges are merged. */
function intervals<T extends number | bigint>(ranges: readonly IpRange[], family: 4 | 6, convert: (value: bigint) => T): { starts: T[]; ends: T[] } {
  const max = family === 4 ? 32 : 128;
  const spans = ranges
    .filter((range) => range.family === family)
    .map((range) => {
      const size = 1n << BigInt(max - range.bits);
      return [range.base, range.base + size - 1n] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const starts: T[] = [];
  const ends: bigint[] = [];
  for (const [start, end] of spans) {
    const last = ends.length - 1;
    if (last >= 0 && start <= ends[last]! + 1n) {
      if (end > ends[last]!) ends[last] = end;
    } else {
      starts.push(convert(start));
      ends.push(end);
    }
  }
  return { starts, ends: ends.map(convert) };
}

/** The index of the last interval starting at or before `value`, or -1. */
function lastStartAtOrBefore<T extends number | bigint>(starts: readonly T[], value: T): number {
  let low = 0;
  let high = starts.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (starts[middle]! <= value) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/**
 * Compiles ranges into a set.
 * @example
 * const admins = compileIpSet([parseRange('10.0.0.0/8')!, parseRange('::1')!]);
 * admins.has(parseIp('10.1.2.3')!); // true
 */
export function compileIpSet(ranges: readonly IpRange[]): IpSet {
  // IPv4 as plain numbers (exact below 2^53, far cheaper than bigint comparisons); IPv6 as bigints.
  const v4 = intervals(ranges, 4, Number);
  const v6 = intervals(ranges, 6, (value) => value);
  return {
    size: ranges.length,
    has(address) {
      if (address.family === 4) {
        const value = Number(address.value);
        const i = lastStartAtOrBefore(v4.starts, value);
        return i >= 0 && value <= v4.ends[i]!;
      }
      const i = lastStartAtOrBefore(v6.starts, address.value);
      return i >= 0 && address.value <= v6.ends[i]!;
    },
  };
}

/**
 * Why an `ip` entry is not a CIDR range or an address, or undefined when it is one. Precise, because
 * `10.0.0.1/8` (host bits set) is usually a typo of `10.0.0.0/8`, not a different intention.
 */
export function checkCidr(entry: string): string | undefined {
  if (parseRange(entry)) return undefined;
  const slash = entry.indexOf('/');
  const text = slash < 0 ? entry : entry.slice(0, slash);
  // A bare address is a range of one: parseRange of the part before the slash checks it is plain.
  const address = parseRange(text);
  if (!address || slash < 0) return `"${entry}" is not a CIDR range or an address (e.g. "203.0.113.0/24", "2001:db8::/32", "192.0.2.7")`;
  const max = address.family === 4 && !text.includes(':') ? 32 : 128;
  const suffix = entry.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(suffix) || Number(suffix) > max) return `"${entry}": the prefix length must be a number from 0 to ${max}`;
  return `"${entry}" has host bits set after /${suffix}: write the network address (or the address alone, for one host)`;
}
