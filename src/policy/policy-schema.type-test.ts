/**
 * Type test (checked by `tsc -p src/tsconfig.json`, never run): the policy's TypeScript types
 * (types.ts) and the valibot schema definePolicy validates with (define.ts) are written separately;
 * this fails to compile when a key exists in one and not the other, at any level of the policy.
 * A failure names the keys: `onlyInSchema: "foo"` or `onlyInType: "foo"`.
 */
import type * as v from 'valibot';
import type { ClientIpOptions } from '../client.ts';
import type { PolicySchema, RouteSchema } from './define.ts';
import type {
  AllowRule,
  CorsPolicy,
  HeadersPolicy,
  LimitsPolicy,
  LoggingPolicy,
  Policy,
  RateLimitingPolicy,
  RateLimitPolicy,
  RoutePolicy,
  RoutingPolicy,
  TransportPolicy,
  VersionPolicy,
} from './types.ts';

/** The object of an optional or `false | {…}` field. */
type Section<T> = Exclude<NonNullable<T>, false>;

/** Compiles only when both sides have the same keys; otherwise the error shows the keys that differ. */
type SameKeys<Schema, Type, Diff = { onlyInSchema: Exclude<keyof Schema, keyof Type>; onlyInType: Exclude<keyof Type, keyof Schema> }> = Diff extends {
  onlyInSchema: never;
  onlyInType: never;
}
  ? true
  : Diff;
type Agree<T extends true> = T;

type PolicyInput = v.InferInput<typeof PolicySchema>;
type RouteInput = v.InferInput<typeof RouteSchema>;
type AllowRuleInput = Exclude<RouteInput['allow'], 'authenticated' | undefined>[number];
type TransportInput = Section<PolicyInput['transport']>;
type RateLimitInput = Section<PolicyInput['rateLimits']>[string];

export type PolicySchemaAgreesWithTypes = [
  Agree<SameKeys<PolicyInput, Policy>>,
  Agree<SameKeys<RouteInput, RoutePolicy>>,
  Agree<SameKeys<PolicyInput['routes'][string], RoutePolicy>>,
  Agree<SameKeys<AllowRuleInput, AllowRule>>,
  Agree<SameKeys<Section<AllowRuleInput['owner']>, Section<AllowRule['owner']>>>,
  Agree<SameKeys<Section<PolicyInput['clientIp']>, ClientIpOptions>>,
  Agree<SameKeys<TransportInput, TransportPolicy>>,
  Agree<SameKeys<Section<TransportInput['hsts']>, Section<TransportPolicy['hsts']>>>,
  Agree<SameKeys<Section<PolicyInput['cors']>, CorsPolicy>>,
  Agree<SameKeys<Section<PolicyInput['headers']>, HeadersPolicy>>,
  Agree<SameKeys<Section<PolicyInput['versions']>[string], VersionPolicy>>,
  Agree<SameKeys<Section<PolicyInput['routing']>, RoutingPolicy>>,
  Agree<SameKeys<Section<PolicyInput['limits']>, LimitsPolicy>>,
  Agree<SameKeys<RateLimitInput, RateLimitPolicy>>,
  Agree<SameKeys<Section<PolicyInput['rateLimiting']>, RateLimitingPolicy>>,
  Agree<SameKeys<Section<PolicyInput['logging']>, LoggingPolicy>>,
  Agree<SameKeys<Section<Section<PolicyInput['logging']>['allowed']>, Section<LoggingPolicy['allowed']>>>,
];
