/**
 * What the probe reads out of a policy: each route with the authentication it accepts, the
 * ownership rules of its `allow`, its body limits, and an oracle for "would this principal be
 * admitted" that is written from the policy's data, not borrowed from the engine — so a bug in the
 * engine's authorization cannot hide itself from the probe.
 * @module
 */

import { claimList, readClaim } from '../../src/authn/claims.ts';
import type { AllowRule, Policy, RoutePolicy } from '../../src/policy/types.ts';
import { normalizePath, parsePattern, RouteTable, type ParsedPattern } from '../../src/router.ts';
import type { AuthnMethod } from '../../src/authn/contract.ts';
import { compileHierarchy } from '../../src/stages/authz.ts';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/stages/validate.ts';

/** The value the probe puts in path params that are not the caller's own id: no real object has it. */
export const PROBE_ID = 'portcullis-probe';

/** One route of the policy, as the probe sees it. */
export interface ProbeRoute {
  pattern: string;
  method: string;
  parsed: ParsedPattern;
  policy: RoutePolicy;
  /** `authn: 'anonymous'`. */
  anonymous: boolean;
  /** `authn` lists `'anonymous'` next to methods: credentials are optional, bad ones still refused. */
  optional: boolean;
  /** The named methods the route accepts, in order. */
  methods: { name: string; method: AuthnMethod }[];
  /** Ownership conditions of its allow rules. */
  owners: { param: string; claim: string }[];
  /** Accepted body media types; undefined when the route takes no body. */
  contentTypes: readonly string[] | undefined;
  maxBodyBytes: number;
}

/** Who the probe is, when it has a credential the deployment accepts. */
export interface ProbePrincipal {
  id: string;
  roles: readonly string[];
  scopes: readonly string[];
  claims: Readonly<Record<string, unknown>>;
}

/** The routes of a policy, and questions about them. */
export class PolicyModel {
  readonly routes: ProbeRoute[];
  readonly #table: RouteTable<ProbeRoute>;
  readonly #expand: (roles: readonly string[]) => ReadonlySet<string>;

  constructor(readonly policy: Policy) {
    const methods = policy.authn ?? {};
    this.routes = Object.entries(policy.routes).map(([pattern, route]: [string, RoutePolicy]) => {
      const parsed = parsePattern(pattern) as ParsedPattern;
      const names = route.authn === 'anonymous' ? [] : route.authn.filter((name) => name !== 'anonymous');
      const rules = Array.isArray(route.allow) ? (route.allow as readonly AllowRule[]) : [];
      return {
        pattern,
        method: parsed.method,
        parsed,
        policy: route,
        anonymous: route.authn === 'anonymous',
        optional: route.authn !== 'anonymous' && route.authn.includes('anonymous'),
        methods: names.map((name) => ({ name, method: methods[name]! })),
        owners: rules.filter((rule) => rule.owner).map((rule) => ({ param: rule.owner!.param, claim: rule.owner!.claim ?? 'sub' })),
        contentTypes: route.contentTypes ?? (route.body ? ['application/json'] : undefined),
        maxBodyBytes: route.maxBodyBytes ?? policy.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      };
    });
    this.#table = new RouteTable(this.routes.map((route) => ({ pattern: route.pattern, parsed: route.parsed, route })), { headFromGet: policy.routing?.headFromGet ?? false });
    this.#expand = compileHierarchy(policy.roleHierarchy);
  }

  /** Authenticated routes: credentials are required. */
  get guarded(): ProbeRoute[] {
    return this.routes.filter((route) => !route.anonymous && !route.optional);
  }

  /** The jwt methods of the policy, by name. */
  get jwtMethods(): { name: string; method: AuthnMethod }[] {
    return Object.entries(this.policy.authn ?? {})
      .filter(([, method]) => method.kind === 'jwt')
      .map(([name, method]) => ({ name, method }));
  }

  /**
   * The route a path reaches, after the resolution a standard URL parser applies (`.`/`..`, `\`):
   * `undefined` when the path is not routed (or not a path the policy's normalizer accepts).
   */
  routeOf(method: string, path: string): ProbeRoute | undefined {
    let resolved: string;
    try {
      resolved = new URL(path, 'http://probe.invalid').pathname;
    } catch {
      return undefined;
    }
    const normalized = normalizePath(resolved, this.policy.routing?.maxPathLength ?? 2048);
    if (!normalized.ok) return undefined;
    const match = this.#table.match(method, normalized.segments);
    return match.kind === 'found' ? match.entry.route : undefined;
  }

  /** Is any route at this path (any method)? */
  isRoutedPath(path: string): boolean {
    return this.routes.some((route) => this.routeOf(route.method, path) !== undefined);
  }

  /** Every role and scope an allow rule of the route names: what a forged token claims to have. */
  privilegesOf(route: ProbeRoute): { roles: string[]; scopes: string[] } {
    const rules = Array.isArray(route.policy.allow) ? (route.policy.allow as readonly AllowRule[]) : [];
    return {
      roles: [...new Set(rules.flatMap((rule) => rule.roles ?? []))],
      scopes: [...new Set(rules.flatMap((rule) => rule.scopes ?? []))],
    };
  }

  /**
   * Would the policy admit this principal to this route with these params? `undefined` when a
   * custom `check` decides and the probe cannot know.
   */
  admits(route: ProbeRoute, principal: ProbePrincipal, params: Readonly<Record<string, string>>, options: { ignoreOwner?: boolean } = {}): boolean | undefined {
    const allow = route.policy.allow ?? 'authenticated';
    if (allow === 'authenticated') return true;
    const roles = this.#expand(principal.roles);
    let unknown = false;
    for (const rule of allow) {
      if (rule.roles && !rule.roles.some((role) => roles.has(role))) continue;
      if (rule.scopes && !rule.scopes.every((scope) => principal.scopes.includes(scope))) continue;
      if (rule.owner) {
        if (options.ignoreOwner) continue;
        const claim = rule.owner.claim ?? 'sub';
        const owner = claim === 'sub' ? principal.id : readClaim(principal.claims, claim);
        if (typeof owner !== 'string' || owner !== params[rule.owner.param]) continue;
      }
      if (rule.check) {
        unknown = true;
        continue;
      }
      return true;
    }
    return unknown ? undefined : false;
  }

  /** A concrete path of a route: each param from `params`, or PROBE_ID. */
  pathOf(route: ProbeRoute, params: Readonly<Record<string, string>> = {}): string {
    if (!route.parsed.segments.length) return '/';
    return `/${route.parsed.segments.map((segment) => ('literal' in segment ? segment.literal : encodeURIComponent(params[segment.param] ?? PROBE_ID))).join('/')}`;
  }

  /** The params that make `principal` the owner of the route's object (PROBE_ID for the others). */
  ownParams(route: ProbeRoute, principal: ProbePrincipal | undefined): Record<string, string> {
    const params: Record<string, string> = {};
    for (const name of route.parsed.params) params[name] = PROBE_ID;
    if (!principal) return params;
    for (const { param, claim } of route.owners) {
      const value = claim === 'sub' ? principal.id : readClaim(principal.claims, claim);
      if (typeof value === 'string' && value) params[param] = value;
    }
    return params;
  }
}

/** The principal a verified token would give, read the way `jwt()` reads it. */
export function principalOf(claims: Readonly<Record<string, unknown>>, method: AuthnMethod | undefined): ProbePrincipal {
  const rolesClaim = (method?.meta?.rolesClaim as string | undefined) ?? 'roles';
  const scopesClaim = (method?.meta?.scopesClaim as string | undefined) ?? 'scope';
  return {
    id: typeof claims.sub === 'string' ? claims.sub : '',
    roles: claimList(readClaim(claims, rolesClaim)),
    scopes: claimList(readClaim(claims, scopesClaim)),
    claims,
  };
}
