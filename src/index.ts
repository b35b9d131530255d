/**
 * portcullis: an API security policy engine for the Fetch API.
 * @module
 */

export { definePolicy, formatPath } from './policy/define.ts';
export type {
  CorsPolicy,
  HeadersPolicy,
  Policy,
  RoutePattern,
  RoutePolicy,
  RoutingPolicy,
  TransportPolicy,
  VersionPolicy,
} from './policy/types.ts';
export { createEngine } from './engine.ts';
export type { Engine, EngineEnv, EvaluateContext, Handler, HandleOptions } from './engine.ts';
export { denialResponse, isAllow, isDeny, problemType, REASONS } from './decision.ts';
export type { Allow, Decision, Deny, Problem, ReasonCode, TraceEntry } from './decision.ts';
export type { Client, ClientIpOptions, Peer } from './client.ts';
export { canonicalIp } from './ip.ts';
export { ANONYMOUS } from './authn/contract.ts';
export type { AuthnEnv, AuthnMethod, AuthnOutcome, Principal } from './authn/contract.ts';
export type { SecurityEvent, SecuritySink } from './log.ts';
export { jsonLineSink } from './log.ts';
export { PolicyError } from './errors.ts';
export { FORWARDED_BY_DEFAULT, forwardTo } from './proxy.ts';
export type { ForwardOptions, ForwardTransport, OriginAnswer, OriginRequest } from './proxy.ts';
export { IDENTITY_HEADER, identityHeaderVerifier, identityVerifier, memoryReplayCache, type Identity, type IdentityFailure, type IdentityKey, type IdentityOptions, type IdentityReplayCache, type IdentityResult, type MemoryReplayCacheOptions, type VerifyIdentityOptions } from './identity.ts';
export { problemResponse } from './decision.ts';
export { jwt } from './authn/jwt.ts';
export type { JwtOptions } from './authn/jwt.ts';
export { apiKey, generateApiKey, hashApiKey } from './authn/api-key.ts';
export type { ApiKeyOptions, ApiKeyRecord } from './authn/api-key.ts';
export { oauth2Introspection } from './authn/introspection.ts';
export type { IntrospectionOptions } from './authn/introspection.ts';
export { memoryStore } from './stores/memory.ts';
export type { MemoryStore, MemoryStoreOptions } from './stores/memory.ts';
export type { BucketSpec, RateLimitResult, RateLimitStore } from './stores/types.ts';
export type { KeyContext, RateLimitingPolicy, RateLimitPolicy } from './stages/ratelimit.ts';
export type { AllowRule, CheckContext } from './stages/authz.ts';
export type { ValidatedInput } from './stages/validate.ts';
export type { InferOutput, StandardSchemaV1 } from './schema.ts';
export { HeaderList } from './header-list.ts';
export { leaks } from './stages/headers.ts';
export { ecsLineSink, toEcs, ECS_VERSION } from './log-ecs.ts';
export type { EcsDocument } from './log-ecs.ts';
export type { AlertRecord, EngineObserver, EvaluationRecord } from './telemetry/observer.ts';
export type { AlertPolicy, FailedLoginsAlert, PrincipalIpsAlert, SpikeAlert } from './policy/types.ts';
