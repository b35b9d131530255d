/**
 * What `portcullis replay` reads: the engine's security events (JSON lines: denials, reports and
 * sampled `portcullis.allow` events) or a HAR file (requests recorded by a browser or a proxy,
 * with their headers and bodies). Both become replay records: a request to decide again and the
 * decision it got.
 * @module
 */

import { REASONS } from '../../src/decision.ts';
import type { SecurityEvent } from '../../src/log.ts';

/** The decision a request got when it was recorded. */
export interface RecordedDecision {
  outcome: 'allow' | 'deny';
  /** `allow`, or the reason code of the denial. */
  reason: string;
  status?: number;
}

/** Who made a logged request, as far as the log says. */
export type LoggedIdentity =
  /** An allowed request: the principal in full (no claims beyond the id). */
  | { kind: 'principal'; method: string; id: string; principalKind: 'user' | 'client' | 'anonymous'; roles: readonly string[]; scopes: readonly string[] }
  /** A denial after authentication: the principal's method and id, not its roles and scopes. */
  | { kind: 'partial'; method: string; id: string }
  /** No credentials were sent (`authn.required`), or an anonymous route admitted the caller. */
  | { kind: 'none' }
  /** Credentials were sent and refused for this reason. */
  | { kind: 'failed'; reason: string }
  /** Decided before authentication: whether credentials came along is not known. */
  | { kind: 'unknown' };

/** One request to decide again. */
export interface ReplayRecord {
  /** `events.jsonl:12`, `requests.har#3`. */
  at: string;
  method: string;
  /** The absolute URL to build the request from; for log records, on a placeholder host. */
  url: string;
  /** The path as logged or recorded (what reports show). */
  path: string;
  clientIp: string;
  scheme: 'http' | 'https';
  /** When the request was decided (the log's `time`, the HAR's `startedDateTime`), epoch ms. */
  time: number;
  before: RecordedDecision;
  /** The route that matched then. */
  route: string | null;
  /** Log records: who the caller was; HAR records carry their credentials instead. */
  identity?: LoggedIdentity;
  /** HAR records: the request's headers and body, replayed as they were. */
  headers?: readonly (readonly [string, string])[];
  body?: string;
  /** Query keys whose values the log left out. */
  queryWithoutValues: readonly string[];
  /** Known to be undecidable before any evaluation, and why. */
  undecidable?: string;
}

/** What was read: the records, and what was passed over. */
export interface ReplayInput {
  format: 'events' | 'har';
  records: ReplayRecord[];
  /** Lines or entries that are no request (notices, alerts, other output), counted. */
  skipped: number;
}

/** Options of readReplayInput. */
export interface ReadOptions {
  /** HAR: the client address to replay from (a HAR does not record it). @default '192.0.2.10' */
  clientIp?: string;
  /** The host of requests rebuilt from log lines (they keep only the path). @default 'replay.invalid' */
  host?: string;
  /** The name the `at` of each record starts with. @default 'input' */
  name?: string;
}

/** Reads a HAR (one JSON document with `log`) or else security events, one JSON object a line. */
export function readReplayInput(text: string, options: ReadOptions = {}): ReplayInput {
  const trimmed = text.trimStart();
  let har: unknown;
  if (trimmed.startsWith('{')) {
    try {
      har = JSON.parse(trimmed);
    } catch {
      // Not one JSON document: JSON lines.
    }
  }
  if (har !== undefined && typeof har === 'object' && har !== null && 'log' in har) return readHar(har as Har, options);
  return readEvents(text, options);
}

const REPLAYED_EVENTS = new Set(['portcullis.deny', 'portcullis.report', 'portcullis.allow']);

function readEvents(text: string, options: ReadOptions): ReplayInput {
  const name = options.name ?? 'input';
  const host = options.host ?? 'replay.invalid';
  const records: ReplayRecord[] = [];
  let skipped = 0;
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    let event: SecurityEvent;
    try {
      event = JSON.parse(line) as SecurityEvent;
    } catch {
      skipped++;
      return;
    }
    if (typeof event !== 'object' || event === null || !REPLAYED_EVENTS.has(event.event) || typeof event.path !== 'string' || typeof event.method !== 'string') {
      skipped++;
      return;
    }
    const allowed = event.event === 'portcullis.allow';
    const before: RecordedDecision = allowed ? { outcome: 'allow', reason: 'allow', status: event.status } : { outcome: 'deny', reason: event.reason, status: event.status };
    const { search, withoutValues } = queryOf(event.query);
    const malformed = !event.path.startsWith('/');
    records.push({
      at: `${name}:${index + 1}`,
      method: event.method,
      url: malformed ? `https://${host}/` : `https://${host}${event.path}${search}`,
      path: `${event.path}${event.query ? `?${event.query}` : ''}`,
      clientIp: event.clientIp,
      scheme: before.reason.startsWith('transport.') ? 'http' : 'https',
      time: Date.parse(event.time) || Date.now(),
      before,
      route: event.route,
      identity: identityOf(event),
      queryWithoutValues: withoutValues,
      undecidable: malformed ? 'the log holds no readable target' : undecidableReason(before.reason),
    });
  });
  return { format: 'events', records, skipped };
}

/** Reasons a log line cannot be decided again whatever the policy says. */
function undecidableReason(reason: string): string | undefined {
  if (reason.startsWith('ratelimit.')) return 'rate limits depend on the volume of all traffic, which a sampled log does not hold';
  if (reason.startsWith('cors.')) return 'the log holds no Origin or preflight headers';
  if (reason.startsWith('request.') || reason.startsWith('client.')) return 'the request could not be read as sent (the log holds no raw target)';
  if (reason === 'internal.error' || reason === 'authn.keys_unavailable' || reason === 'authn.unavailable') return 'an outage decided it, not the policy';
  return undefined;
}

function identityOf(event: SecurityEvent): LoggedIdentity {
  const [method, ...rest] = (event.principal ?? '').split(':');
  const id = rest.join(':');
  if (event.event === 'portcullis.allow') {
    if (event.principalKind === 'anonymous' || !event.principal || method === 'anonymous') return { kind: 'none' };
    return { kind: 'principal', method: method!, id, principalKind: event.principalKind ?? 'user', roles: event.roles ?? [], scopes: event.scopes ?? [] };
  }
  if (event.principal && method !== 'anonymous') return { kind: 'partial', method: method!, id };
  if (event.reason === 'authn.required') return { kind: 'none' };
  if (event.reason.startsWith('authn.')) return { kind: 'failed', reason: event.reason };
  // Denied after an anonymous route admitted the caller: no principal, and none was needed.
  if (event.route !== null && (event.reason.startsWith('validate.') || event.reason.startsWith('authz.'))) return { kind: 'none' };
  return { kind: 'unknown' };
}

/** The logged query (`page=2&q`) as a search string, and the keys whose values were left out. */
function queryOf(query: string | undefined): { search: string; withoutValues: string[] } {
  if (!query) return { search: '', withoutValues: [] };
  const withoutValues = query.split('&').filter((part) => part && !part.includes('=')).map((part) => decodeURIComponent(part));
  return { search: `?${query.split('&').map((part) => (part.includes('=') ? part : `${part}=`)).join('&')}`, withoutValues };
}

/** The parts of a HAR 1.2 document replay reads. */
interface Har {
  log: {
    entries?: {
      startedDateTime?: string;
      request?: { method?: string; url?: string; headers?: { name: string; value: string }[]; postData?: { mimeType?: string; text?: string } };
      response?: { status?: number; content?: { mimeType?: string; text?: string; encoding?: string } };
    }[];
  };
}

/** Headers a HAR records that a Request cannot carry, or that the connection, not the caller, set. */
const UNREPLAYED_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'expect']);

function readHar(har: Har, options: ReadOptions): ReplayInput {
  const name = options.name ?? 'input';
  const records: ReplayRecord[] = [];
  let skipped = 0;
  (har.log.entries ?? []).forEach((entry, index) => {
    const request = entry.request;
    let url: URL;
    try {
      url = new URL(request?.url ?? '');
    } catch {
      skipped++;
      return;
    }
    if (!request?.method || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      skipped++;
      return;
    }
    const headers = (request.headers ?? []).filter(({ name }) => !name.startsWith(':') && !UNREPLAYED_HEADERS.has(name.toLowerCase())).map(({ name, value }) => [name, value] as const);
    records.push({
      at: `${name}#${index + 1}`,
      method: request.method.toUpperCase(),
      url: url.href,
      path: `${url.pathname}${url.search}`,
      clientIp: options.clientIp ?? '192.0.2.10',
      scheme: url.protocol === 'http:' ? 'http' : 'https',
      time: Date.parse(entry.startedDateTime ?? '') || Date.now(),
      before: recordedAnswer(entry.response),
      route: null,
      headers,
      ...(request.postData?.text !== undefined ? { body: request.postData.text } : {}),
      queryWithoutValues: [],
    });
  });
  return { format: 'har', records, skipped };
}

/**
 * What the recorded answer says was decided: a problem+json with a portcullis reason code is that
 * denial; any other answer got past the policy (the origin's own 404 is still an allow).
 */
function recordedAnswer(response: NonNullable<Har['log']['entries']>[number]['response']): RecordedDecision {
  const status = response?.status;
  const content = response?.content;
  if (content?.text && /problem\+json/i.test(content.mimeType ?? '')) {
    try {
      const text = content.encoding === 'base64' ? atob(content.text) : content.text;
      const code = (JSON.parse(text) as { code?: unknown }).code;
      if (typeof code === 'string' && code in REASONS) return { outcome: 'deny', reason: code, status };
    } catch {
      // Not a problem document after all: an answer of the origin.
    }
  }
  return { outcome: 'allow', reason: 'allow', status };
}
