/**
 * Lint rules for `ip`, `country` and `quota`: lists that admit everyone or no one, entries that say
 * the same thing twice, allow entries a deny entry cancels, and quotas that never count.
 * @module
 */

import { parseRange, type IpRange } from '../../src/ip.ts';
import type { CountryRulesPolicy, IpRulesPolicy, Policy } from '../../src/policy/types.ts';
import type { Hit, LintRule, RouteInfo } from './rule-types.ts';

/** Every place that holds network rules: the policy itself, and each route. */
function scopes(policy: Policy, routes: readonly RouteInfo[]): { keys: (string | number)[]; ip?: IpRulesPolicy; country?: CountryRulesPolicy; where: string }[] {
  return [
    { keys: [], ip: policy.ip, country: policy.country, where: 'the policy' },
    ...routes.map((route) => ({ keys: ['routes', route.pattern], ip: route.route.ip, country: route.route.country, where: route.pattern })),
  ];
}

/** Does `outer` hold every address of `inner`? */
function covers(outer: IpRange, inner: IpRange): boolean {
  if (outer.family !== inner.family || outer.bits > inner.bits) return false;
  const shift = BigInt((outer.family === 4 ? 32 : 128) - outer.bits);
  return outer.base >> shift === inner.base >> shift;
}

/** The entries of a list that parse, with their index. */
const ranges = (list: readonly string[] | undefined) =>
  (list ?? []).flatMap((entry, i) => {
    const range = parseRange(entry);
    return range ? [{ entry, i, range }] : [];
  });

const EVERYTHING = new Set(['0.0.0.0/0', '::/0', '::ffff:0.0.0.0/96']);

export const NETWORK_RULES: readonly LintRule[] = [
  {
    id: 'network.allow_everything',
    severity: 'warning',
    owasp: 'API8',
    title: 'An ip allow list admits every address',
    description: 'An allow entry of 0.0.0.0/0 or ::/0 admits every IPv4 or IPv6 client: the list restricts nothing for that family, while it reads as if it did.',
    fix: 'List the networks that may call (an office, a VPN, the proxies in front), or leave allow out.',
    check: ({ policy, routes }) =>
      scopes(policy, routes).flatMap(({ keys, ip, where }) =>
        (ip?.allow ?? []).flatMap((entry, i) =>
          EVERYTHING.has(entry) ? [{ keys: [...keys, 'ip', 'allow', i], message: `${where}: "${entry}" admits every ${entry.includes(':') && entry !== '::ffff:0.0.0.0/96' ? 'IPv6' : 'IPv4'} client` }] : [],
        ),
      ),
  },
  {
    id: 'network.empty_list',
    severity: 'warning',
    owasp: 'API8',
    title: 'An empty ip or country list',
    description: 'An empty allow list admits nobody (every request gets 403); an empty deny list does nothing. Either is usually a list that was meant to be filled from the environment.',
    fix: 'Fill the list, or leave the key out.',
    check: ({ policy, routes }) =>
      scopes(policy, routes).flatMap(({ keys, ip, country, where }) => {
        const hits: Hit[] = [];
        for (const [kind, rules] of [['ip', ip], ['country', country]] as const) {
          if (rules?.allow?.length === 0) hits.push({ keys: [...keys, kind, 'allow'], message: `${where}: an empty ${kind} allow list admits nobody`, severity: 'error' });
          if (rules?.deny?.length === 0) hits.push({ keys: [...keys, kind, 'deny'], message: `${where}: an empty ${kind} deny list does nothing` });
        }
        return hits;
      }),
  },
  {
    id: 'network.overlap',
    severity: 'warning',
    owasp: 'API8',
    title: 'An entry of an ip or country list repeats another',
    description: 'An entry inside another entry of the same list (or the same country twice) changes nothing; it makes the list harder to review and hides which entry was meant.',
    fix: 'Remove the inner entry, or narrow the outer one if it was meant to be smaller.',
    check: ({ policy, routes }) =>
      scopes(policy, routes).flatMap(({ keys, ip, country, where }) => {
        const hits: Hit[] = [];
        for (const list of ['allow', 'deny'] as const) {
          const parsed = ranges(ip?.[list]);
          for (const inner of parsed) {
            const outer = parsed.find((other) => other.i !== inner.i && covers(other.range, inner.range) && (!covers(inner.range, other.range) || other.i < inner.i));
            if (outer) hits.push({ keys: [...keys, 'ip', list, inner.i], message: `${where}: "${inner.entry}" is inside "${outer.entry}" of the same list` });
          }
          (country?.[list] ?? []).forEach((code, i, codes) => {
            if (codes.indexOf(code) !== i) hits.push({ keys: [...keys, 'country', list, i], message: `${where}: "${code}" is listed twice` });
          });
        }
        return hits;
      }),
  },
  {
    id: 'network.contradiction',
    severity: 'warning',
    owasp: 'API8',
    title: 'An allow entry that a deny entry cancels',
    description: 'Deny wins over allow: an allow entry wholly inside a deny entry (of the same place or of the whole policy), or a country in both lists, admits nobody.',
    fix: 'Remove the allow entry, or carve the allowed part out of the deny entry.',
    check: ({ policy, routes }) => {
      const policyDeny = ranges(policy.ip?.deny);
      return scopes(policy, routes).flatMap(({ keys, ip, country, where }) => {
        const hits: Hit[] = [];
        const deny = keys.length ? [...ranges(ip?.deny), ...policyDeny] : ranges(ip?.deny);
        for (const allowed of ranges(ip?.allow)) {
          const cancel = deny.find((denied) => covers(denied.range, allowed.range));
          if (cancel) hits.push({ keys: [...keys, 'ip', 'allow', allowed.i], message: `${where}: "${allowed.entry}" is inside the denied "${cancel.entry}": it admits nobody` });
        }
        (country?.allow ?? []).forEach((code, i) => {
          const denied = [...(country?.deny ?? []), ...(keys.length ? (policy.country?.deny ?? []) : [])];
          if (denied.includes(code)) hits.push({ keys: [...keys, 'country', 'allow', i], message: `${where}: "${code}" is denied too: it admits nobody` });
        });
        return hits;
      });
    },
  },
  {
    id: 'quota.never_counted',
    severity: 'warning',
    owasp: 'API4',
    title: "A quota by API key on a route that takes no API key",
    description: "A quota with by: 'apiKey' counts only calls made with an API key. On a route none of whose methods is an API key, it never counts anything.",
    fix: "Use by: 'principal', or add the API key method to the route's authn.",
    check: ({ policy, routes }) =>
      routes.flatMap((route) => {
        const quota = route.route.quota === undefined ? undefined : policy.quotas?.[route.route.quota];
        if (quota?.by !== 'apiKey' || !Array.isArray(route.route.authn)) return [];
        const takesKey = route.route.authn.some((name) => policy.authn?.[name]?.kind === 'apiKey');
        return takesKey ? [] : [{ keys: ['routes', route.pattern, 'quota'], message: `${route.pattern} takes no API key, so quota "${route.route.quota}" never counts` }];
      }),
  },
];
