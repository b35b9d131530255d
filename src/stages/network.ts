/**
 * Network rules: which client addresses (`ip`) and countries (`country`) may call, policy-wide and
 * per route, on the client the policy resolved (trusted proxies applied, one canonical spelling per
 * address). Deny wins over allow; a client the rules cannot place is refused (fail closed).
 * @module
 */

import type { Client } from '../client.ts';
import { checkCountryCode } from '../country.ts';
import { refuse, type Stage } from '../exchange.ts';
import { parseIp, parseRange } from '../ip.ts';
import { checkCidr, compileIpSet, type IpSet } from '../ip-set.ts';
import type { CountryRulesPolicy, IpRulesPolicy, Policy } from '../policy/types.ts';

export type { CountryRulesPolicy, IpRulesPolicy } from '../policy/types.ts';

/** A refusal: its reason code, and for the trace and log which rule said so. */
export interface NetworkDenial {
  readonly reason: 'network.ip_denied' | 'network.ip_unknown' | 'network.country_denied' | 'network.country_unknown';
  readonly detail: string;
}

/** Checks one client against compiled rules: undefined when it may pass. */
export type NetworkCheck = (client: Client) => NetworkDenial | undefined;

/** Compiles a list of CIDRs (validated by definePolicy) into a set. */
function ipSet(entries: readonly string[] | undefined): IpSet | undefined {
  if (entries === undefined) return undefined;
  return compileIpSet(
    entries.map((entry) => {
      const range = parseRange(entry);
      if (!range) throw new TypeError(`ip: ${checkCidr(entry)}`);
      return range;
    }),
  );
}

function countrySet(codes: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (codes === undefined) return undefined;
  for (const code of codes) {
    const problem = checkCountryCode(code);
    if (problem) throw new TypeError(`country: ${problem}`);
  }
  return new Set(codes);
}

/**
 * Compiles `ip` and `country` rules once. Undefined when there are none (nothing to check).
 *
 * - `ip.deny` refuses an address inside one of its ranges, whatever `allow` says; `ip.allow`, when
 *   given, admits only addresses inside its ranges. A client whose address the runtime did not give
 *   (`unknown`) is refused by any `ip` rule: it cannot be shown to be outside `deny`.
 * - `country` works alike on the client's country. A request whose country is not known — no
 *   platform country, no trusted proxy's header — is refused unless `unknown: 'allow'` says otherwise.
 *
 * @example
 * const check = compileNetworkRules({ allow: ['10.0.0.0/8'] }, undefined)!;
 * check({ ip: '10.1.2.3', scheme: 'https', forwarded: false, directLoopback: false }); // undefined: passes
 */
export function compileNetworkRules(ip: IpRulesPolicy | undefined, country: CountryRulesPolicy | undefined): NetworkCheck | undefined {
  const allowIp = ipSet(ip?.allow);
  const denyIp = ipSet(ip?.deny);
  const allowCountry = countrySet(country?.allow);
  const denyCountry = countrySet(country?.deny);
  const hasIpRules = allowIp !== undefined || denyIp !== undefined;
  const hasCountryRules = allowCountry !== undefined || denyCountry !== undefined;
  const admitUnknownCountry = country?.unknown === 'allow';
  if (!hasIpRules && !hasCountryRules) return undefined;

  const judgeIp = (ip: string): NetworkDenial | null => {
    const address = ip === 'unknown' ? undefined : parseIp(ip);
    if (!address) return { reason: 'network.ip_unknown', detail: 'ip: the client address is unknown' };
    if (denyIp?.has(address)) return { reason: 'network.ip_denied', detail: `ip.deny: ${ip}` };
    if (allowIp && !allowIp.has(address)) return { reason: 'network.ip_denied', detail: `ip.allow: ${ip} is in no range` };
    return null;
  };
  // A server sees the same clients again and again: their verdicts are kept (bounded), because
  // parsing an IPv6 address costs more than the search itself.
  const verdicts = new Map<string, NetworkDenial | null>();

  return function checkNetwork(client) {
    if (hasIpRules) {
      let verdict = verdicts.get(client.ip);
      if (verdict === undefined) {
        verdict = judgeIp(client.ip);
        if (verdicts.size >= 4096) verdicts.clear();
        verdicts.set(client.ip, verdict);
      }
      if (verdict) return verdict;
    }
    if (hasCountryRules) {
      const code = client.country;
      if (code === undefined) {
        if (!admitUnknownCountry) return { reason: 'network.country_unknown', detail: 'country: the client country is unknown' };
      } else {
        if (denyCountry?.has(code)) return { reason: 'network.country_denied', detail: `country.deny: ${code}` };
        if (allowCountry && !allowCountry.has(code)) return { reason: 'network.country_denied', detail: `country.allow: ${code} is not listed` };
      }
    }
    return undefined;
  };
}

/** The network steps of the pipeline: the policy's rules, and each route's own. */
export interface NetworkStages {
  /** The policy-wide rules, right after the client is resolved: a refused client learns nothing of the routes. */
  beforeRouting: Stage;
  /** The matched route's rules (both must pass). */
  afterRouting: Stage;
}

export function networkStages(policy: Policy): NetworkStages {
  const policyWide = compileNetworkRules(policy.ip, policy.country);
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, compileNetworkRules(route.ip, route.country)]));
  const stage = (check: NetworkCheck | undefined, x: Parameters<Stage>[0]) => {
    const denial = check?.(x.client);
    return denial && refuse('network', denial.reason, { reasons: [denial.detail] });
  };
  return {
    beforeRouting: (x) => stage(policyWide, x),
    afterRouting: (x) => stage(byRoute.get(x.route!), x),
  };
}
