/**
 * Security events in Elastic Common Schema field names, for log pipelines that index ECS (Elastic,
 * Filebeat, Vector, Splunk's ECS mappings). The default sink keeps portcullis's own flat names.
 * @module
 */

import { canonicalIp } from './ip.ts';
import type { SecurityEvent, SecuritySink } from './log.ts';

/** The ECS version the documents follow. */
export const ECS_VERSION = '8.11.0';

/** A security event as an ECS document: nested objects, as ECS's JSON layouts write them. */
export interface EcsDocument {
  '@timestamp': string;
  ecs: { version: string };
  message: string;
  event: {
    kind: 'event' | 'alert';
    category: string[];
    type: string[];
    /** `portcullis.deny`, `portcullis.alert`, … */
    action: string;
    /** The reason code (`authn.required`). */
    reason: string;
    outcome: 'success' | 'failure' | 'unknown';
    module: 'portcullis';
    dataset: 'portcullis.security';
  };
  http?: { request: { id: string; method?: string }; response?: { status_code: number } };
  url?: { path: string };
  /** Only a parseable address: Elasticsearch refuses a document whose `source.ip` is not an IP. */
  source?: { ip: string };
  user?: { id: string };
  error?: { message: string };
  /** What ECS has no field for: the route pattern, the rules, an alert's counts. */
  portcullis: Record<string, unknown>;
}

const OUTCOME: Record<SecurityEvent['event'], EcsDocument['event']['outcome']> = {
  'portcullis.deny': 'failure',
  'portcullis.error': 'failure',
  'portcullis.report': 'success',
  'portcullis.notice': 'unknown',
  'portcullis.alert': 'unknown',
  'portcullis.allow': 'success',
};

function categoryOf(event: SecurityEvent): string[] {
  if (event.event === 'portcullis.alert') return ['intrusion_detection'];
  return event.reason.startsWith('authn.') ? ['authentication', 'web'] : ['web'];
}

function typeOf(event: SecurityEvent): string[] {
  if (event.event === 'portcullis.deny') return ['denied'];
  if (event.event === 'portcullis.error') return ['error'];
  if (event.event === 'portcullis.alert') return ['indicator'];
  if (event.event === 'portcullis.allow') return ['allowed'];
  return ['info'];
}

/**
 * Maps a security event to ECS field names: `@timestamp`, `event.*`, `http.request.method`,
 * `http.response.status_code`, `url.path`, `source.ip`, `user.id`; the rest under `portcullis.*`.
 *
 * @example
 * ```ts
 * const engine = createEngine(policy, { log: (event) => myShipper.send(toEcs(event)) });
 * ```
 */
export function toEcs(event: SecurityEvent): EcsDocument {
  const { time, event: action, reason, requestId, method, path, status, clientIp, principal, error, route, ...rest } = event;
  const document: EcsDocument = {
    '@timestamp': time,
    ecs: { version: ECS_VERSION },
    message: `${action} ${reason}`,
    event: { kind: action === 'portcullis.alert' ? 'alert' : 'event', category: categoryOf(event), type: typeOf(event), action, reason, outcome: OUTCOME[action], module: 'portcullis', dataset: 'portcullis.security' },
    portcullis: { ...rest, ...(route !== undefined && { route }) },
  };
  // Events that decided no request (notices) carry `-` in the request fields.
  if (requestId !== '-') document.http = { request: { id: requestId, ...(method !== '-' && { method }) } };
  if (document.http && status !== undefined) document.http.response = { status_code: status };
  if (path !== '-') document.url = { path };
  const ip = canonicalIp(clientIp);
  if (ip !== undefined) document.source = { ip };
  if (principal !== undefined) document.user = { id: principal };
  if (error !== undefined) document.error = { message: error };
  return document;
}

/**
 * A sink that writes one ECS JSON document per line on standard output: `createEngine(policy, {
 * log: ecsLineSink })`, and the same for `forwardTo(…, { log })`.
 */
export const ecsLineSink: SecuritySink = (event) => console.log(JSON.stringify(toEcs(event)));
