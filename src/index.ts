/**
 * portcullis: an API security policy engine for the Fetch API. One declarative policy, compiled
 * once, decides every request: `definePolicy` checks it, `createEngine` compiles it, and an adapter
 * (`portcullis/node`, `/hono`, `/bun`, `/deno`, `/cloudflare`) puts it in front of traffic.
 * @module
 */

// The policy: what is allowed.
export { definePolicy } from './policy/define.ts';
export type {
  CorsPolicy,
  CountryRulesPolicy,
  HeadersPolicy,
  IpRulesPolicy,
  Policy,
  QuotaPolicy,
  RoutePattern,
  RoutePolicy,
  RoutingPolicy,
  TransportPolicy,
  VersionPolicy,
} from './policy/types.ts';
export type { AlertPolicy, FailedLoginsAlert, PrincipalIpsAlert, SpikeAlert } from './policy/types.ts';
export type { AllowRule, CheckContext } from './stages/authz.ts';
export type { KeyContext, RateLimitingPolicy, RateLimitPolicy } from './stages/ratelimit.ts';
export type { InferOutput, StandardSchemaV1 } from './schema.ts';
export { PolicyError } from './errors.ts';

// Authentication methods, and the contract your own method implements.
export { jwt } from './authn/jwt.ts';
export type { JwtOptions } from './authn/jwt.ts';
export { apiKey, generateApiKey, hashApiKey } from './authn/api-key.ts';
export type { ApiKeyOptions, ApiKeyRecord, GenerateApiKeyOptions } from './authn/api-key.ts';
export { API_KEY_PATTERN, checkApiKeyChecksum } from './authn/api-key-format.ts';
export { oauth2Introspection } from './authn/introspection.ts';
export type { IntrospectionOptions } from './authn/introspection.ts';
export { DPOP_ALGORITHMS, dpopProof } from './authn/dpop.ts';
export type { DpopAlgorithm, DpopMode, DpopNonceOptions, DpopProofOptions, DpopSetting } from './authn/dpop.ts';
export { signature } from './authn/signature.ts';
export type { DigestAlgorithm, HttpMessageSignatureOptions, HttpSignatureAlgorithm, HttpSignatureKey, SignatureOptions, WebhookSignatureOptions } from './authn/signature.ts';
export { ANONYMOUS } from './authn/contract.ts';
export type { AuthnContext, AuthnEnv, AuthnMethod, AuthnOutcome, AuthnTarget, Principal, QuotaSpec } from './authn/contract.ts';
export { mtls } from './authn/mtls.ts';
export type { MtlsClient, MtlsOptions } from './authn/mtls.ts';
export type { ClientCertificate, PresentedCertificate } from './authn/certificate.ts';
export type { CertificateLookup, ClientCertificateOptions } from './authn/certificate-source.ts';

// The engine and its decisions: what a request gets.
export { createEngine } from './engine.ts';
export type { Engine, EngineEnv, EvaluateContext, Handler, HandlerContext, HandleOptions } from './engine.ts';
export type { NativeCrypto } from './authn/native-crypto.ts';
export { denialResponse, isAllow, isDeny, problemResponse, problemType, REASONS } from './decision.ts';
export type { Allow, Decision, Deny, Problem, QuotaInfo, ReasonCode, TraceEntry, ValidatedInput } from './decision.ts';
export type { Client, ClientIpOptions, Peer } from './client.ts';
export type { HeaderList } from './header-list.ts';
export { canonicalIp } from './ip.ts';

// Gateway mode: forwarding allowed requests to an origin, and the identity it can trust.
export { FORWARDED_BY_DEFAULT, forwardTo } from './proxy.ts';
export type { ForwardOptions, ForwardTransport, OriginAnswer, OriginRequest } from './proxy.ts';
export {
  IDENTITY_HEADER,
  identityHeaderVerifier,
  identityVerifier,
  memoryReplayCache,
  type Identity,
  type IdentityFailure,
  type IdentityKey,
  type IdentityOptions,
  type IdentityReplayCache,
  type IdentityResult,
  type MemoryReplayCacheOptions,
  type VerifyIdentityOptions,
} from './identity.ts';

// Where rate-limit counters live (Redis, Upstash and Durable Objects stores have their own subpaths).
export { memoryStore } from './stores/memory.ts';
export type { MemoryStore, MemoryStoreOptions } from './stores/memory.ts';
export type { BucketSpec, QuotaCounterSpec, QuotaPeriod, RateLimitResult, RateLimitStore } from './stores/types.ts';

// Security events: one JSON object per denial or alert, with portcullis's names or ECS's.
export { jsonLineSink } from './log.ts';
export type { SecurityEvent, SecuritySink } from './log.ts';
export { ECS_VERSION, ecsLineSink, toEcs } from './log-ecs.ts';
export type { EcsDocument } from './log-ecs.ts';

// Telemetry: what the engine tells an observer (`portcullis/otel` makes one on OpenTelemetry).
export type { AlertRecord, EngineObserver, EvaluationRecord } from './telemetry/observer.ts';
