/**
 * The probe's only way out: one origin, a request budget, a timeout per request, no redirects
 * followed, and every exchange recorded (the header checks read them all at the end).
 * @module
 */

/** A request as a check builds it. */
export interface ProbeRequest {
  method: string;
  /** Path and query exactly as sent, below the base URL's path. */
  target: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  /** How the report shows the body (`65537-byte JSON`); the body itself is never printed. */
  bodyNote?: string;
  /** The plain-HTTP sibling of the target (same host): the only other origin a check may use. */
  plain?: boolean;
}

/** What came back. The body is read up to a cap. */
export interface ProbeResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** What a sender is given. */
export interface SendInit {
  method: string;
  headers: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  timeoutMs: number;
}

/** Sends one request to an absolute URL and never follows a redirect. */
export type ProbeSender = (url: string, init: SendInit) => Promise<ProbeResponse>;

/** The part of a response body the probe reads (stack traces show in the first bytes). */
export const BODY_READ_LIMIT = 64 * 1024;

/**
 * A sender over `fetch` with `redirect: 'manual'`: a 3xx comes back as it is, so the probe never
 * reaches a host a `Location` names. It cannot send targets that the URL parser rewrites (`..`,
 * `%2e%2e`, `\`): give the probe a `rawSend` for those.
 */
export function fetchSender(fetchImpl: (input: string, init: RequestInit) => Promise<Response> = (input, init) => fetch(input, init)): ProbeSender {
  return async function send(url, init) {
    const response = await fetchImpl(url, {
      method: init.method,
      headers: init.headers as Record<string, string>,
      body: init.body as BodyInit | undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    return { status: response.status, headers: response.headers, body: await readCapped(response, BODY_READ_LIMIT) };
  };
}

async function readCapped(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  if (size >= limit) await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, limit));
}

/** The request budget (`--max-requests`) is spent: the run stops where it is. */
export class BudgetExhausted extends Error {
  override readonly name = 'BudgetExhausted';
}

/** The request could not be sent as written (a raw target and no raw sender), so it was not sent. */
export class Unsendable extends Error {
  override readonly name = 'Unsendable';
}

/** No answer: refused connection, reset, or the per-request timeout. */
export class NoAnswer extends Error {
  override readonly name = 'NoAnswer';
}

/** A request and what came back. */
export interface Exchange {
  request: ProbeRequest;
  url: string;
  response: ProbeResponse;
}

/** A request as the report shows it: secrets truncated, the body described. */
export interface RequestSummary {
  method: string;
  target: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Options of a session. */
export interface SessionOptions {
  baseUrl: string;
  send: ProbeSender;
  /** Sends targets exactly as written (the CLI's node:http sender). */
  rawSend?: ProbeSender;
  maxRequests: number;
  timeoutMs: number;
  /** Port of the plain-HTTP sibling of an https target. @default 80 */
  httpPort?: number;
  /** Header names whose values are secrets (API key headers), lowercase. */
  secretHeaders?: readonly string[];
}

/**
 * One probe run's connection to its target. Every request goes to the base URL's origin (or, for
 * the plain-HTTP check of an https target, the same host over http): nothing else is reachable
 * through it.
 */
export class ProbeSession {
  readonly origin: string;
  /** The base URL's path without its trailing slash: routes are requested below it. */
  readonly prefix: string;
  readonly https: boolean;
  readonly plainOrigin: string | undefined;
  readonly exchanges: Exchange[] = [];
  readonly maxRequests: number;
  sent = 0;
  readonly #options: SessionOptions;
  readonly #secretHeaders: Set<string>;

  constructor(options: SessionOptions) {
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`the base URL must be http or https, not ${base.protocol}`);
    if (base.username || base.password) throw new TypeError('the base URL must not carry credentials');
    if (base.search || base.hash) throw new TypeError('the base URL must not have a query or fragment');
    this.origin = base.origin;
    this.prefix = base.pathname.replace(/\/+$/, '');
    this.https = base.protocol === 'https:';
    if (this.https) {
      const plain = new URL(base.origin);
      plain.protocol = 'http:';
      plain.port = String(options.httpPort ?? 80);
      this.plainOrigin = plain.origin;
    }
    this.maxRequests = options.maxRequests;
    this.#options = options;
    this.#secretHeaders = new Set(['authorization', 'cookie', 'proxy-authorization', ...(options.secretHeaders ?? []).map((name) => name.toLowerCase())]);
  }

  /** Requests left in the budget. */
  get remaining(): number {
    return this.maxRequests - this.sent;
  }

  /** The absolute URL of a request. */
  urlOf(request: ProbeRequest): string {
    const origin = request.plain ? this.plainOrigin : this.origin;
    if (!origin) throw new Unsendable('the target is not https: there is no plain-HTTP sibling to try');
    if (!request.target.startsWith('/')) throw new TypeError(`a target starts with /, got "${request.target}"`);
    return `${origin}${this.prefix}${request.target}`;
  }

  /**
   * Would a URL parser (and so fetch) send this target differently from how it is written? A
   * request that names its own Host needs the raw sender too: fetch sets Host from the URL.
   */
  rewrites(request: ProbeRequest): boolean {
    if (request.headers && Object.keys(request.headers).some((name) => name.toLowerCase() === 'host')) return true;
    const url = this.urlOf(request);
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search}` !== url;
  }

  async send(request: ProbeRequest): Promise<Exchange> {
    const url = this.urlOf(request);
    const parsed = new URL(url);
    // The guard every request passes: no check can reach a host the user did not name.
    if (parsed.origin !== this.origin && parsed.origin !== this.plainOrigin) throw new Error(`refusing to send to ${parsed.origin}: not the target`);
    const raw = this.rewrites(request);
    const sender = raw ? this.#options.rawSend : this.#options.send;
    if (!sender) throw new Unsendable(`${request.target} would be rewritten by the URL parser before it is sent, and no raw sender was given`);
    if (this.sent >= this.maxRequests) throw new BudgetExhausted(`the request budget (${this.maxRequests}) is spent`);
    this.sent++;
    let response: ProbeResponse;
    try {
      response = await sender(url, { method: request.method, headers: request.headers ?? {}, body: request.body, timeoutMs: this.#options.timeoutMs });
    } catch (error) {
      const cause = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      const why = cause.name === 'TimeoutError' ? `no answer within ${this.#options.timeoutMs} ms` : (cause.cause?.code ?? cause.cause?.message ?? cause.message ?? String(error));
      throw new NoAnswer(`${request.method} ${url}: ${why}`);
    }
    const exchange = { request, url, response };
    this.exchanges.push(exchange);
    return exchange;
  }

  /** The request as the report shows it. */
  summarize(request: ProbeRequest): RequestSummary {
    const summary: RequestSummary = { method: request.method, target: request.plain ? `${this.plainOrigin}${this.prefix}${request.target}` : `${this.prefix}${request.target}` };
    const headers = Object.entries(request.headers ?? {});
    if (headers.length) summary.headers = Object.fromEntries(headers.map(([name, value]) => [name, this.#secretHeaders.has(name.toLowerCase()) ? redact(value) : value]));
    if (request.bodyNote !== undefined) summary.body = request.bodyNote;
    return summary;
  }
}

/** A secret as the report may show it: enough to tell tokens apart, never enough to use one. */
export function redact(value: string): string {
  const scheme = /^(Bearer|Basic|DPoP|Token)\s+/i.exec(value);
  const secret = scheme ? value.slice(scheme[0].length) : value;
  const shown = secret.length > 24 ? `${secret.slice(0, 12)}…(${secret.length} chars)` : `${secret.slice(0, 3)}…(${secret.length} chars)`;
  return scheme ? `${scheme[1]} ${shown}` : shown;
}
