/**
 * probe: runs every attack family of a policy against a deployment within a request budget and
 * reports what got through.
 * @module
 */

import type { JWK } from 'jose';
import type { Policy } from '../../src/policy/types.ts';
import { FAMILIES, type ProbeFamily } from './checks.ts';
import { ProbeContext, type CheckRecord, type ProbeFinding, type UserIdentity } from './context.ts';
import { probeMissingCredentials, probeJwt } from './families/authn.ts';
import { probeBodies } from './families/bodies.ts';
import { probeCertificates } from './families/certificates.ts';
import { probeBola } from './families/bola.ts';
import { probeCors } from './families/cors.ts';
import { probeDpop } from './families/dpop.ts';
import { probeHeaders } from './families/headers.ts';
import { probeMethodOverride } from './families/methods.ts';
import { probeHosts } from './families/hosts.ts';
import { probePaths } from './families/paths.ts';
import { probeRateLimits } from './families/ratelimit.ts';
import { probeSignatures } from './families/signatures.ts';
import { probeTransport } from './families/transport.ts';
import { BudgetExhausted, fetchSender, NoAnswer, ProbeSession, type ProbeSender } from './http.ts';
import { PolicyModel, PROBE_ID, principalOf } from './model.ts';
import { readToken, trustedSigner } from './tokens.ts';

/** Credentials the probe may use. Each is optional; what is missing is skipped and said. */
export interface ProbeCredentials {
  /** A user's JWT the deployment accepts (a plain user: not an admin), for BOLA and body checks. */
  token?: string;
  /** Log in through the policy's login route: POST JSON `{ username, password }`, read `token` / `access_token`. */
  login?: { route: string; username: string; password: string };
  /**
   * A private JWK the deployment trusts (a test deployment's signing key): honest tokens for the
   * expired / wrong-audience / wrong-issuer attacks, and a user token when none is given.
   */
  signingKey?: JWK;
  /** The `sub` of the user token the signing key makes. @default 'portcullis-probe-user' */
  subject?: string;
  /** An API key the deployment accepts. */
  apiKey?: string;
  /**
   * The webhook secret of the deployment's `signature()` routes (`whsec_…`): stale and (with
   * `aggressive`) replayed webhooks, validly signed, which must still be refused.
   */
  webhookSecret?: string;
}

/** Options of `probe`. */
export interface ProbeOptions {
  /** The deployment. Only its origin is contacted. */
  baseUrl: string;
  credentials?: ProbeCredentials;
  /** Another user's object id, for BOLA. @default 'portcullis-probe-other' */
  otherId?: string;
  /**
   * The probe runs on a host the deployment trusts as a proxy (e.g. loopback next to the demo):
   * forwarding headers it sends are believed, which changes what the transport and rate-limit
   * checks expect. @default false
   */
  trustedProxy?: boolean;
  /**
   * Also try what costs more or could change data on a broken deployment: buckets over 50,
   * bodies over 8 MiB, BOLA on DELETE, overrides on the probe's own objects. @default false
   */
  aggressive?: boolean;
  /** @default 1000 */
  maxRequests?: number;
  /** Per request, ms. @default 10000 */
  timeoutMs?: number;
  /** The issuer's public keys (for key confusion), beyond those the policy holds. */
  jwks?: { keys: JWK[] };
  /** Keys never to use for key confusion (the CLI's throwaway test key a policy function was given). */
  ignoreKeys?: readonly JWK[];
  /** Fetch the policy's `jwksUrl` — a host the policy names, contacted only when asked. @default false */
  fetchJwks?: boolean;
  /** Port of the plain-HTTP sibling of an https target. @default 80 */
  httpPort?: number;
  /** Sends requests. @default fetchSender() */
  send?: ProbeSender;
  /** Sends targets a URL parser would rewrite (`..`, `\`) byte for byte; without it those are not sent. */
  rawSend?: ProbeSender;
  /** Fetch for `fetchJwks` (the only request that leaves the target). @default globalThis.fetch */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** @default Date.now */
  now?: () => number;
  /** Families not to run (each is named in the report's notes). */
  skip?: readonly ProbeFamily[];
  /** Called as each family starts. */
  onFamily?: (family: ProbeFamily) => void;
}

/** What a family did. */
export interface FamilySummary {
  family: ProbeFamily;
  attempts: number;
  passed: number;
  failed: number;
  inconclusive: number;
}

/** The outcome of a run. */
export interface ProbeReport {
  target: string;
  requests: number;
  /** Who the probe was, when it had a user token (`u_alice via login`). */
  identity?: string;
  findings: ProbeFinding[];
  summary: { errors: number; warnings: number; passed: number; inconclusive: number; attempts: number };
  families: FamilySummary[];
  /** Attempts that proved nothing, and why. */
  inconclusive: CheckRecord[];
  /** What was skipped and why, and where the run stopped. */
  notes: string[];
}

/** The probe could not start: the target does not answer, the login failed, an option is wrong. */
export class ProbeSetupError extends Error {
  override readonly name = 'ProbeSetupError';
}

/**
 * Probes a deployment of `policy`.
 * @throws ProbeSetupError when the target does not answer or the login fails
 */
export async function probe(policy: Policy, options: ProbeOptions): Promise<ProbeReport> {
  const model = new PolicyModel(policy);
  const apiKeyMethods = Object.entries(policy.authn ?? {})
    .filter(([, method]) => method.kind === 'apiKey')
    .map(([name, method]) => ({ name, header: ((method.meta?.header as string | undefined) ?? 'x-api-key').toLowerCase() }));
  let session: ProbeSession;
  try {
    session = new ProbeSession({
      baseUrl: options.baseUrl,
      send: options.send ?? fetchSender(),
      rawSend: options.rawSend,
      maxRequests: options.maxRequests ?? 1000,
      timeoutMs: options.timeoutMs ?? 10_000,
      httpPort: options.httpPort,
      secretHeaders: apiKeyMethods.map(({ header }) => header),
    });
  } catch (error) {
    throw new ProbeSetupError((error as Error).message);
  }
  const clock = options.now ?? Date.now;
  const ctx = new ProbeContext(session, model, { aggressive: options.aggressive ?? false, trustedProxy: options.trustedProxy ?? false, otherId: options.otherId ?? `${PROBE_ID}-other` }, () => Math.floor(clock() / 1000));

  await reach(ctx);
  await setUp(ctx, options);
  if (apiKeyMethods.length && options.credentials?.apiKey) ctx.apiKey = { key: options.credentials.apiKey, methods: apiKeyMethods };

  const families: Record<ProbeFamily, () => Promise<void> | void> = {
    authn: () => probeMissingCredentials(ctx),
    jwt: () => probeJwt(ctx),
    dpop: () => probeDpop(ctx),
    signatures: () => probeSignatures(ctx, options.credentials?.webhookSecret, options.aggressive ?? false),
    certificates: () => probeCertificates(ctx),
    bola: () => probeBola(ctx),
    methods: () => probeMethodOverride(ctx),
    paths: () => probePaths(ctx),
    hosts: () => probeHosts(ctx),
    cors: () => probeCors(ctx),
    bodies: () => probeBodies(ctx),
    transport: () => probeTransport(ctx),
    ratelimit: () => probeRateLimits(ctx),
    headers: () => probeHeaders(ctx),
  };
  for (const family of FAMILIES) {
    if (options.skip?.includes(family)) {
      ctx.note(`${family}: skipped (--skip)`);
      continue;
    }
    options.onFamily?.(family);
    try {
      await families[family]();
    } catch (error) {
      if (!(error instanceof BudgetExhausted)) throw error;
      ctx.note(`stopped in ${family}: all ${session.maxRequests} requests of --max-requests were sent; later checks did not run`);
      probeHeaders(ctx);
      break;
    }
  }
  return report(ctx, options);
}

/** The first request: the target answers at all, or there is nothing to probe. */
async function reach(ctx: ProbeContext) {
  const route = ctx.model.routes.find((r) => r.anonymous && r.method === 'GET') ?? ctx.model.routes.find((r) => r.method === 'GET');
  const target = route ? ctx.model.pathOf(route, ctx.probeParams(route)) : '/';
  try {
    await ctx.session.send({ method: 'GET', target });
  } catch (error) {
    if (error instanceof NoAnswer) throw new ProbeSetupError(`cannot reach the target: ${error.message}`);
    throw error;
  }
}

/** Credentials and keys: the user token (given, logged in, or signed), the issuer's public keys. */
async function setUp(ctx: ProbeContext, options: ProbeOptions) {
  const credentials = options.credentials ?? {};
  const jwtMethods = ctx.model.jwtMethods;
  const firstJwt = jwtMethods[0];
  const first = (value: unknown) => (Array.isArray(value) ? value[0] : value) as string | undefined;

  if (credentials.signingKey) {
    const fallback = (firstJwt?.method.meta?.algorithms as string[] | undefined)?.[0] ?? 'ES256';
    try {
      ctx.signer = await trustedSigner(credentials.signingKey, fallback);
    } catch (error) {
      throw new ProbeSetupError(`the signing key cannot sign: ${(error as Error).message}`);
    }
  }

  let token = credentials.token;
  let source = 'the given token';
  if (!token && credentials.login) {
    token = await logIn(ctx, credentials.login);
    source = `login as ${credentials.login.username}`;
  }
  if (!token && ctx.signer && firstJwt) {
    const meta = firstJwt.method.meta ?? {};
    const now = ctx.now();
    token = await ctx.signer.sign({ iss: first(meta.issuer), aud: first(meta.audience), sub: credentials.subject ?? `${PROBE_ID}-user`, iat: now, exp: now + 600 });
    source = 'a token the signing key made';
  }
  if (token) {
    let read;
    try {
      read = readToken(token);
    } catch {
      throw new ProbeSetupError('the user token is not a JWT');
    }
    // The method whose issuer and audience the token names; the first jwt method otherwise.
    const method =
      jwtMethods.find(({ method }) => {
        const meta = method.meta ?? {};
        const list = (value: unknown) => (Array.isArray(value) ? value : [value]);
        const aud = list(read.claims.aud);
        return list(meta.issuer).includes(read.claims.iss) && list(meta.audience).some((value) => aud.includes(value));
      }) ?? firstJwt;
    if (!method) {
      ctx.note('the user token was not used: the policy has no jwt method');
    } else {
      const identity: UserIdentity = { token, claims: read.claims, kid: read.kid, method, principal: principalOf(read.claims, method.method), source };
      ctx.identity = identity;
      ctx.serverKid = read.kid;
    }
  }

  // Public keys for key confusion: given, the policy's own, fetched on request, or served by the target.
  const ignored = new Set((options.ignoreKeys ?? []).map(keyId));
  const keys = new Map<string, JWK>();
  const add = (list: readonly JWK[] | undefined, from: string) => {
    let added = 0;
    for (const key of list ?? []) {
      if (ignored.has(keyId(key)) || keys.has(keyId(key))) continue;
      keys.set(keyId(key), key);
      added++;
    }
    if (added) ctx.note(`jwt: key confusion uses ${added} public key${added === 1 ? '' : 's'} from ${from}`);
  };
  add(options.jwks?.keys, 'the given JWKS');
  for (const { name, method } of jwtMethods) {
    const local = (method.meta?.jwks as { keys?: JWK[] } | undefined)?.keys;
    if (local) add(local, `the policy (authn.${name})`);
    const url = method.meta?.jwksUrl as string | undefined;
    if (url && options.fetchJwks) add(await fetchKeys(options.fetch ?? ((input, init) => fetch(input, init)), url, options.timeoutMs ?? 10_000), `${url} (--fetch-jwks)`);
    else if (url && !keys.size) ctx.note(`jwt: the policy's jwksUrl ${url} was not fetched (--fetch-jwks fetches it)`);
  }
  if (!keys.size && jwtMethods.length) {
    // A key set the deployment itself serves on a public route of the policy: same origin, so fair game.
    const route = ctx.model.routes.find((r) => r.anonymous && r.method === 'GET' && /jwks(\.json)?$/.test(r.pattern));
    if (route) {
      try {
        const { response } = await ctx.session.send({ method: 'GET', target: ctx.model.pathOf(route) });
        const body = JSON.parse(response.body) as { keys?: JWK[] };
        if (response.status === 200 && Array.isArray(body.keys)) add(body.keys, `the target's ${route.pattern}`);
      } catch (error) {
        if (error instanceof BudgetExhausted) throw error;
      }
    }
  }
  ctx.publicKeys = [...keys.values()];
  ctx.serverKid ??= ctx.publicKeys.find((key) => key.kid)?.kid ?? ctx.signer?.kid;
}

/** A key's identity for de-duplication: its public numbers. */
function keyId(key: JWK): string {
  return [key.kty, key.crv, key.x, key.y, key.n, key.e].join('|');
}

async function fetchKeys(fetchImpl: (input: string, init: RequestInit) => Promise<Response>, url: string, timeoutMs: number): Promise<JWK[]> {
  try {
    const response = await fetchImpl(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json()) as { keys?: JWK[] };
    return response.ok && Array.isArray(body.keys) ? body.keys : [];
  } catch {
    return [];
  }
}

async function logIn(ctx: ProbeContext, login: NonNullable<ProbeCredentials['login']>): Promise<string> {
  const match = /^([A-Z]+)\s+(\/\S*)$/.exec(login.route.trim());
  const route = match && ctx.model.routes.find((r) => r.method === match[1] && r.pattern === `${match[1]} ${match[2]}`);
  if (!route) throw new ProbeSetupError(`--login "${login.route}" is not a route of the policy`);
  if (route.parsed.params.length) throw new ProbeSetupError(`--login "${login.route}" has path params`);
  let response;
  try {
    ({ response } = await ctx.session.send({
      method: route.method,
      target: ctx.model.pathOf(route),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: login.username, password: login.password }),
      bodyNote: '{"username","password"}',
    }));
  } catch (error) {
    throw new ProbeSetupError(`login failed: ${(error as Error).message}`);
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(response.body) as Record<string, unknown>;
  } catch {
    // reported below
  }
  const token = [body.token, body.access_token, body.id_token, body.jwt].find((value): value is string => typeof value === 'string');
  if (response.status !== 200 || !token) throw new ProbeSetupError(`login as ${login.username} failed: ${response.status}${token ? '' : ', no token in the answer'}`);
  return token;
}

function report(ctx: ProbeContext, options: ProbeOptions): ProbeReport {
  const records = ctx.records;
  const count = (outcome: CheckRecord['outcome'], family?: ProbeFamily) => records.filter((r) => r.outcome === outcome && (!family || r.family === family)).length;
  return {
    target: options.baseUrl,
    requests: ctx.session.sent,
    ...(ctx.identity ? { identity: `${ctx.identity.principal.id} (${ctx.identity.source})` } : {}),
    findings: ctx.findings,
    summary: {
      errors: ctx.findings.filter((finding) => finding.severity === 'error').length,
      warnings: ctx.findings.filter((finding) => finding.severity === 'warning').length,
      passed: count('pass'),
      inconclusive: count('inconclusive'),
      attempts: records.length,
    },
    families: FAMILIES.map((family) => ({
      family,
      attempts: records.filter((r) => r.family === family).length,
      passed: count('pass', family),
      failed: count('fail', family),
      inconclusive: count('inconclusive', family),
    })),
    inconclusive: records.filter((r) => r.outcome === 'inconclusive'),
    notes: ctx.notes,
  };
}
