/**
 * Who is the client, and did it use HTTPS? Forwarding headers are believed only from trusted proxies.
 * @module
 */

import type { PresentedCertificate } from './authn/certificate.ts';
import { reportedCountry } from './country.ts';
import { parseForwarded } from './forwarded.ts';
import { formatIp, inRange, isLoopback, LOOPBACK, parseIp, parseRange, type IpAddress, type IpRange } from './ip.ts';

/** What the adapter knows about the connection the request arrived on. */
export interface Peer {
  /** The socket's remote address (`info.remoteAddr`, `server.requestIP`, `socket.remoteAddress`). */
  address?: string | undefined;
  /** The socket's scheme. When absent, the scheme of `request.url` is used. */
  scheme?: 'http' | 'https' | undefined;
  /** Set by the Workers adapter: the request came through Cloudflare's edge, which sets `CF-Connecting-IP`. */
  platform?: 'cloudflare' | undefined;
  /** The client certificate the runtime's TLS layer saw on this connection (see `mtls()`). */
  certificate?: PresentedCertificate | undefined;
  /**
   * The client's country as the platform itself determined it (`request.cf.country` on Workers),
   * never from a header the client could write.
   */
  country?: string | undefined;
}

/** The resolved client: every later stage keys on `ip`. */
export interface Client {
  /** Canonical client address, or `unknown` when the runtime gave none. */
  readonly ip: string;
  readonly scheme: 'http' | 'https';
  /** True when `ip` or `scheme` came from a forwarding header of a trusted proxy. */
  readonly forwarded: boolean;
  /** True when the request arrived directly (no trusted forwarding) from a loopback address. */
  readonly directLoopback: boolean;
  /**
   * The host the client asked the first trusted proxy for: RFC 7239 `host=` of the element that
   * names the client, lowercase, when it reads as `host[:port]`. Only from `Forwarded`, only from a
   * trusted proxy; absent otherwise. Recorded, not acted on.
   */
  readonly forwardedHost?: string | undefined;
  /**
   * True when the connection itself comes from one of `trustedProxies` (a CIDR or `loopback`):
   * headers only such a proxy may set (a client certificate it verified) are believed. Never on Workers.
   */
  readonly trustedPeer?: boolean;
  /**
   * The client's country (ISO 3166-1 alpha-2, capitals): from the platform (`request.cf.country`),
   * or from `clientIp.countryHeader` when a trusted proxy sent it; absent when unknown.
   */
  readonly country?: string | undefined;
}

/** Options of `policy.clientIp`. */
export interface ClientIpOptions {
  /**
   * Peers whose forwarding headers are believed: CIDR ranges or addresses, `loopback`, and
   * `cloudflare` (believe `CF-Connecting-IP` on Workers).
   * @default []
   */
  trustedProxies?: readonly string[];
  /**
   * Which forwarding header carries the chain. Pick the one your proxy appends to; a header the
   * proxy passes through untouched is written by the client.
   * - `x-forwarded-for`: addresses from `X-Forwarded-For`, the scheme from `X-Forwarded-Proto`.
   * - `forwarded`: RFC 7239 `Forwarded` — `for`, `proto` and `host` of the element that names the
   *   client. A hop that is `unknown`, obfuscated (`_hidden`) or unreadable where the walk must stop
   *   leaves the client `unknown`, and so does a header that breaks the grammar.
   * @default 'x-forwarded-for'
   */
  header?: 'x-forwarded-for' | 'forwarded';
  /**
   * The header in which a trusted proxy reports the client's country (ISO 3166-1 alpha-2), such as
   * `cf-ipcountry` or `cloudfront-viewer-country`. Read only when the request came from a trusted
   * proxy (on Workers: when `cloudflare` is trusted); from anyone else it is ignored. On Workers
   * `request.cf.country` is used without it.
   * @default none: the country is known only from the platform
   */
  countryHeader?: string;
}

/** Returns the problem with a trusted-proxy entry, or undefined when it is valid. */
export function checkTrustedProxy(entry: string): string | undefined {
  if (entry === 'loopback' || entry === 'cloudflare') return undefined;
  return parseRange(entry) ? undefined : `"${entry}" is not a CIDR range, an address, "loopback" or "cloudflare"`;
}

/** `requestUrl` is `request.url`: its scheme is the client's when the socket's is unknown. */
export type ClientResolver = (headers: Headers, peer: Peer, requestUrl: string) => Client;

/**
 * Compiles `policy.clientIp` into a resolver. Throws a `TypeError` on an entry `definePolicy` would refuse.
 * @example
 * const resolveClient = compileClientResolver({ trustedProxies: ['loopback'] });
 * resolveClient(request.headers, { address: '127.0.0.1' }, request.url).ip;
 */
export function compileClientResolver(options: ClientIpOptions = {}): ClientResolver {
  const ranges: IpRange[] = [];
  let trustCloudflare = false;
  for (const entry of options.trustedProxies ?? []) {
    if (entry === 'cloudflare') trustCloudflare = true;
    else if (entry === 'loopback') ranges.push(...LOOPBACK);
    else {
      const range = parseRange(entry);
      if (!range) throw new TypeError(`clientIp.trustedProxies: ${checkTrustedProxy(entry)}`);
      ranges.push(range);
    }
  }
  const header = options.header ?? 'x-forwarded-for';
  if (header !== 'x-forwarded-for' && header !== 'forwarded') {
    throw new TypeError(`clientIp.header: "${String(header)}" is not "x-forwarded-for" or "forwarded"`);
  }
  const trusted = (address: IpAddress) => ranges.some((range) => inRange(address, range));

  // A server sees the same few peers (its proxies, its keep-alive clients) again and again: their
  // parsed address, canonical spelling and trust are kept, bounded, instead of parsed per request.
  const peers = new Map<string, { address: IpAddress; ip: string; trusted: boolean; loopback: boolean } | null>();
  const knownPeer = (text: string) => {
    let known = peers.get(text);
    if (known === undefined) {
      const address = parseIp(text);
      known = address ? { address, ip: formatIp(address), trusted: trusted(address), loopback: isLoopback(address) } : null;
      if (peers.size >= 4096) peers.clear();
      peers.set(text, known);
    }
    return known;
  };

  const countryHeader = options.countryHeader?.toLowerCase();
  const resolveAddress: ClientResolver = (headers, peer, requestUrl) => {
    // A serialized URL's scheme is lowercase.
    const socketScheme = peer.scheme ?? (requestUrl.startsWith('https:') ? 'https' : 'http');
    const known = peer.address === undefined ? null : knownPeer(peer.address);
    const peerAddress = known?.address;

    if (peer.platform === 'cloudflare') {
      // On Workers there is no socket; Cloudflare's edge overwrites CF-Connecting-IP, so it is
      // the client address when the policy says it runs behind Cloudflare.
      const cf = trustCloudflare ? parseIp(headers.get('cf-connecting-ip') ?? '') : undefined;
      if (cf) return { ip: formatIp(cf), scheme: socketScheme, forwarded: true, directLoopback: false };
      return { ip: known ? known.ip : 'unknown', scheme: socketScheme, forwarded: false, directLoopback: false };
    }

    if (!known || !peerAddress) return { ip: 'unknown', scheme: socketScheme, forwarded: false, directLoopback: false };
    if (!known.trusted) return { ip: known.ip, scheme: socketScheme, forwarded: false, directLoopback: known.loopback };

    if (header === 'forwarded') {
      const forwarded = headers.get('forwarded');
      if (forwarded !== null) return { ...forwardedClient(forwarded, socketScheme, trusted), trustedPeer: true };
      return { ip: known.ip, scheme: socketScheme, forwarded: false, directLoopback: known.loopback, trustedPeer: true };
    }

    const chain = xffChain(headers);
    // The client is the right-most hop that is not a trusted proxy: every hop right of it was
    // appended by a proxy we trust, everything left of it may be written by the client.
    let client = peerAddress;
    for (let i = chain.hops.length - 1; i >= 0; i--) {
      const hop = chain.hops[i];
      if (hop === undefined) break; // an unparseable hop: stop at the last proxy we believed
      client = hop;
      if (!trusted(hop)) break;
    }
    const scheme = chain.proto ?? socketScheme;
    const forwarded = client !== peerAddress || chain.proto !== undefined;
    // A trusted proxy that sent a forwarding header stands between us and the client, even when
    // its hops are unreadable: such a request is not a direct loopback connection.
    const direct = chain.hops.length === 0 && chain.proto === undefined;
    return { ip: formatIp(client), scheme, forwarded, directLoopback: direct && isLoopback(peerAddress), trustedPeer: true };
  };

  return function resolveClient(headers, peer, requestUrl) {
    const client = resolveAddress(headers, peer, requestUrl);
    if (!countryHeader && peer.country === undefined) return client;
    // A country header counts only when a proxy we trust sent the request: anyone else writes it freely.
    const trustedSender = peer.platform === 'cloudflare' ? trustCloudflare : peer.address !== undefined && knownPeer(peer.address)?.trusted === true;
    const country = reportedCountry(peer.country) ?? (countryHeader && trustedSender ? reportedCountry(headers.get(countryHeader)) : undefined);
    return country ? { ...client, country } : client;
  };
}

/**
 * The client named by a trusted proxy's RFC 7239 `Forwarded` header: the `for` of the right-most
 * element whose node is not a trusted proxy. Only the elements from that one rightwards were
 * written by proxies we trust, so only their `proto` and `host` count: a `proto=https` the client
 * wrote into its own element, left of it, upgrades nothing.
 *
 * Where the walk must stop at a node it cannot read — `unknown`, an obfuscated `_hidden`, a
 * malformed node — or the header breaks the grammar, the client is `unknown`, not the proxy that
 * said so. Taking the proxy's address instead would hand an internal, often privileged, address to
 * whoever can make the header unreadable (one unterminated quote of their own does it), and it
 * would reach the origin in `X-Forwarded-For`. `unknown` shares one rate-limit key, so it buys no
 * fresh buckets either. A grammar error also makes the scheme http: fail closed.
 */
function forwardedClient(header: string, socketScheme: 'http' | 'https', trusted: (address: IpAddress) => boolean): Client {
  const elements = parseForwarded(header);
  // Unreadable, or empty: the proxy named nobody.
  if (!elements?.length) return { ip: 'unknown', scheme: 'http', forwarded: true, directLoopback: false };
  let client: IpAddress | undefined;
  let first = elements.length; // the left-most element a trusted proxy wrote
  for (let i = elements.length - 1; i >= 0; i--) {
    first = i;
    client = forwardedNode(elements[i]!.get('for'));
    if (!client || !trusted(client)) break;
  }
  const written = elements.slice(first);
  const scheme = schemeOf(written.flatMap((element) => (element.has('proto') ? [element.get('proto')!] : []))) ?? socketScheme;
  const forwardedHost = hostOf(elements[first]!.get('host'));
  // A trusted proxy that sent the header stands between us and the client: not a direct connection.
  return { ip: client ? formatIp(client) : 'unknown', scheme, forwarded: true, directLoopback: false, forwardedHost };
}

/**
 * RFC 7239 §6 node: `IPv4[:port]` or `"[IPv6][:port]"`, the port digits or obfuscated. `unknown`,
 * an obfuscated name (`_hidden`), a bare IPv6 (is `2001:db8::1:80` a port?), a zone or anything
 * else names no address.
 */
function forwardedNode(node: string | undefined): IpAddress | undefined {
  const match = node === undefined ? null : /^(\[[0-9A-Fa-f:.]+\]|[0-9.]+)(?::([0-9]{1,5}|_[A-Za-z0-9._-]+))?$/.exec(node);
  if (!match) return undefined;
  const port = match[2];
  if (port !== undefined && !port.startsWith('_') && Number(port) > 65535) return undefined;
  return parseIp(match[1]!);
}

/** A `host=` value that reads as `host[:port]` (a DNS name or an address), lowercase. */
function hostOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)(?::([0-9]{1,5}))?$/.exec(host);
  if (!match || (match[1] !== undefined && Number(match[1]) > 65535)) return undefined;
  if (host.startsWith('[') && !parseIp(host.slice(0, host.indexOf(']') + 1))) return undefined;
  return host.toLowerCase();
}

interface Chain {
  hops: (IpAddress | undefined)[];
  proto: 'http' | 'https' | undefined;
}

/** Fails closed: any hop that reports plain HTTP, or a value we cannot read, makes the scheme http. */
function schemeOf(values: string[]): 'http' | 'https' | undefined {
  if (values.length === 0) return undefined;
  return values.every((value) => value.trim().toLowerCase() === 'https') ? 'https' : 'http';
}

function xffChain(headers: Headers): Chain {
  const xff = headers.get('x-forwarded-for');
  const proto = headers.get('x-forwarded-proto');
  return {
    hops: xff === null ? [] : xff.split(',').map((hop) => parseIp(hop)),
    proto: schemeOf(proto === null ? [] : proto.split(',')),
  };
}
