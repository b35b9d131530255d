/**
 * IP addresses and CIDR ranges: strict parsing and one canonical spelling per address.
 *
 * Every stage that keys on a client (rate limits, logs, allowlists) uses the canonical form, so
 * `::ffff:203.0.113.7`, `[::ffff:cb00:7107]:443` and `203.0.113.7:80` are one client, and
 * `2001:DB8:0:0::1` and `2001:db8::1` are one client.
 * @module
 */

/** A parsed address: IPv4 as a 32-bit value, IPv6 as a 128-bit value. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** A CIDR range in the same representation. */
export interface IpRange {
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
}

/** Parses a dotted-quad IPv4 address. Leading zeros are rejected: `010.0.0.1` is octal to some parsers. */
function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet; // numbers, not bigint shifts: exact below 2^53 and much cheaper
  }
  return BigInt(value);
}

/** The 16-bit groups of one side of `::` (an IPv4 tail counts as two); undefined when malformed. */
function toGroups(part: string): bigint[] | undefined {
  if (part === '') return [];
  const groups: bigint[] = [];
  const pieces = part.split(':');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (i === pieces.length - 1 && piece.includes('.')) {
      const v4 = parseIpv4(piece);
      if (v4 === undefined) return undefined;
      groups.push(v4 >> 16n, v4 & 0xffffn);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
      groups.push(BigInt(parseInt(piece, 16)));
    } else {
      return undefined;
    }
  }
  return groups;
}

/** Parses an IPv6 address (with `::` compression and an optional embedded IPv4 tail). */
function parseIpv6(text: string): bigint | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 tail is only valid at the very end of the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<bigint>(halves.length === 2 ? missing : 0).fill(0n), ...tail];
  return groups.reduce((value, group) => (value << 16n) | group, 0n);
}

/** A plain address, exactly: no brackets, port, zone or whitespace. IPv4-mapped IPv6 becomes IPv4. */
function parsePlain(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIpv6(text);
    if (value === undefined) return undefined;
    if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
    return { family: 6, value };
  }
  const value = parseIpv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

const PORT = /^[0-9]{1,5}$/;
/** RFC 6874: a zone id is one or more unreserved characters. */
const ZONE = /^[A-Za-z0-9._~-]+$/;

/**
 * Parses an address as it appears on the wire: plain, bracketed IPv6, with a port, with a zone id.
 * IPv4-mapped IPv6 becomes the IPv4 address.
 */
export function parseIp(input: string): IpAddress | undefined {
  let text = input.trim();
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
    text = text.slice(1, close);
    // Brackets hold IPv6 only: `[1.2.3.4]` is not an address.
    if (!text.includes(':')) return undefined;
  } else {
    const match = /^([0-9.]+):([^:]*)$/.exec(text);
    if (match) [, text = '', port] = match;
  }
  if (port !== undefined && !(PORT.test(port) && Number(port) <= 65535)) return undefined;
  const zone = text.indexOf('%');
  if (zone >= 0) {
    // Zone ids belong to IPv6 (`fe80::1%eth0`); `1.2.3.4%eth0` and an empty zone are not addresses.
    if (!text.slice(0, zone).includes(':') || !ZONE.test(text.slice(zone + 1))) return undefined;
    text = text.slice(0, zone);
  }
  return parsePlain(text);
}

/** The one spelling of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    const v = Number(address.value);
    return `${Math.floor(v / 16777216)}.${Math.floor(v / 65536) % 256}.${Math.floor(v / 256) % 256}.${v % 256}`;
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((address.value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // RFC 5952: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Canonical spelling of an address, or `undefined` when it is not an address. */
export function canonicalIp(input: string): string | undefined {
  const address = parseIp(input);
  return address && formatIp(address);
}

/** Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a range of one). Host bits must be zero. */
export function parseRange(input: string): IpRange | undefined {
  const slash = input.indexOf('/');
  const text = slash < 0 ? input : input.slice(0, slash);
  // A range is written plainly: a port, brackets, a zone or whitespace is a typo, not a range.
  const address = parsePlain(text);
  if (!address) return undefined;
  const max = address.family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const suffix = input.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(suffix)) return undefined;
    bits = Number(suffix);
    // `::ffff:10.0.0.0/104` is an IPv4 range written as IPv6; bring it to IPv4 bits.
    if (address.family === 4 && text.includes(':')) bits -= 96;
    if (bits < 0 || bits > max) return undefined;
  }
  const hostMask = (1n << BigInt(max - bits)) - 1n;
  if ((address.value & hostMask) !== 0n) return undefined;
  return { family: address.family, base: address.value, bits };
}

/** Is the address inside the range? */
export function inRange(address: IpAddress, range: IpRange): boolean {
  if (address.family !== range.family) return false;
  const shift = BigInt((range.family === 4 ? 32 : 128) - range.bits);
  return address.value >> shift === range.base >> shift;
}

/** The loopback ranges, named `loopback` in policies. */
export const LOOPBACK: readonly IpRange[] = [parseRange('127.0.0.0/8')!, parseRange('::1')!];

/** Is the address a loopback address? */
export function isLoopback(address: IpAddress): boolean {
  return LOOPBACK.some((range) => inRange(address, range));
}
