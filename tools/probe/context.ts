/**
 * What every attack family shares: the session, the policy model, the probe's credentials, and
 * the bookkeeping that turns each request's verdict into a pass, a finding or an inconclusive.
 * @module
 */

import type { JWK, JWTPayload } from 'jose';
import { OWASP_API_TOP_10, type OwaspItem } from '../lint/owasp.ts';
import type { AuthnMethod } from '../../src/authn/contract.ts';
import type { ProbeCheck, ProbeFamily } from './checks.ts';
import { BudgetExhausted, NoAnswer, Unsendable, type ProbeRequest, type ProbeResponse, type ProbeSession, type RequestSummary } from './http.ts';
import { PROBE_ID, type PolicyModel, type ProbePrincipal, type ProbeRoute } from './model.ts';
import type { TrustedSigner } from './tokens.ts';

export type Severity = 'error' | 'warning';

/** What one response proved. */
export type Verdict =
  | { kind: 'pass'; actual?: string }
  | { kind: 'fail'; severity: Severity; actual: string; message: string }
  | { kind: 'inconclusive'; actual?: string; why: string };

export const pass = (actual?: string): Verdict => ({ kind: 'pass', actual });
export const fail = (severity: Severity, actual: string, message: string): Verdict => ({ kind: 'fail', severity, actual, message });
export const inconclusive = (why: string, actual?: string): Verdict => ({ kind: 'inconclusive', why, actual });

/** One finding: a request the deployment answered in a way the policy does not allow. */
export interface ProbeFinding {
  /** `PROBE-001`…, in the order found. */
  id: string;
  /** The check id, e.g. `jwt.alg_none`. */
  check: string;
  title: string;
  severity: Severity;
  family: ProbeFamily;
  /** The policy route (`GET /v1/users/:id`), or `*` for the whole deployment. */
  route: string;
  /** The request sent (secrets truncated). */
  request: RequestSummary;
  expected: string;
  actual: string;
  message: string;
  owasp: OwaspItem;
}

/** Every check attempt, for the summary. */
export interface CheckRecord {
  check: string;
  family: ProbeFamily;
  route: string;
  outcome: 'pass' | 'fail' | 'inconclusive';
  /** Why an attempt proved nothing. */
  why?: string;
}

/** The probe's user: a JWT the deployment accepts. */
export interface UserIdentity {
  token: string;
  claims: JWTPayload;
  kid: string | undefined;
  /** The policy's jwt method that accepts it. */
  method: { name: string; method: AuthnMethod };
  principal: ProbePrincipal;
  /** Where it came from, for the report. */
  source: string;
}

/** An API key the deployment accepts. */
export interface KeyIdentity {
  key: string;
  /** The policy's API-key methods (name → header). */
  methods: { name: string; header: string }[];
}

/** Options every family reads. */
export interface FamilyOptions {
  aggressive: boolean;
  trustedProxy: boolean;
  otherId: string;
}

/** The shared state of one run. */
export class ProbeContext {
  readonly findings: ProbeFinding[] = [];
  readonly records: CheckRecord[] = [];
  readonly notes: string[] = [];
  identity: UserIdentity | undefined;
  apiKey: KeyIdentity | undefined;
  signer: TrustedSigner | undefined;
  publicKeys: JWK[] = [];
  /** A `kid` the deployment's issuer uses. */
  serverKid: string | undefined;

  constructor(
    readonly session: ProbeSession,
    readonly model: PolicyModel,
    readonly options: FamilyOptions,
    /** Seconds since the epoch. */
    readonly now: () => number,
  ) {}

  /** Says once why something was not tried. */
  note(text: string) {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  /**
   * Sends a request and records the verdict. Returns the response (undefined when none came or the
   * request could not be sent); the budget running out ends the run (the error propagates).
   */
  async attempt(
    check: ProbeCheck,
    route: string,
    request: ProbeRequest,
    expected: string,
    judge: (response: ProbeResponse) => Verdict,
    onNoAnswer?: (error: NoAnswer) => Verdict,
  ): Promise<ProbeResponse | undefined> {
    let response: ProbeResponse | undefined;
    let verdict: Verdict;
    try {
      response = (await this.session.send(request)).response;
      verdict = judge(response);
    } catch (error) {
      if (error instanceof BudgetExhausted) throw error;
      if (error instanceof Unsendable) verdict = inconclusive(error.message);
      else if (error instanceof NoAnswer) verdict = onNoAnswer ? onNoAnswer(error) : inconclusive(error.message, 'no answer');
      else throw error;
    }
    this.settle(check, route, request, expected, verdict);
    return response;
  }

  /** Records a verdict reached over several requests (`request` is the one the report shows). */
  settle(check: ProbeCheck, route: string, request: ProbeRequest, expected: string, verdict: Verdict) {
    if (verdict.kind === 'fail') {
      this.findings.push({
        id: `PROBE-${String(this.findings.length + 1).padStart(3, '0')}`,
        check: check.id,
        title: check.title,
        severity: verdict.severity,
        family: check.family,
        route,
        request: this.session.summarize(request),
        expected,
        actual: verdict.actual,
        message: verdict.message,
        owasp: OWASP_API_TOP_10[check.owasp],
      });
    }
    this.records.push({
      check: check.id,
      family: check.family,
      route,
      outcome: verdict.kind === 'fail' ? 'fail' : verdict.kind,
      ...(verdict.kind === 'inconclusive' ? { why: verdict.why } : {}),
    });
  }

  /** The Authorization header of the probe's user, when its method is one the route accepts. */
  userHeaders(route: ProbeRoute): Record<string, string> | undefined {
    const identity = this.identity;
    if (!identity || !route.methods.some(({ name }) => name === identity.method.name)) return undefined;
    return { authorization: `Bearer ${identity.token}` };
  }

  /**
   * Credentials that get the probe past authentication and authorization on this route with these
   * params, as far as the policy says: none for public routes, the user's token when the policy
   * admits the user, an API key when the route takes one (the probe cannot see what a key may do).
   */
  credentialsFor(route: ProbeRoute, params: Readonly<Record<string, string>>): Record<string, string> | undefined {
    if (route.anonymous) return {};
    const user = this.userHeaders(route);
    if (user && this.model.admits(route, this.identity!.principal, params) !== false) return user;
    const key = this.apiKey?.methods.find(({ name }) => route.methods.some((method) => method.name === name));
    if (key) return { [key.header]: this.apiKey!.key };
    if (route.optional) return {};
    return undefined;
  }

  /** The params of a route for requests made as the probe's user: its own ids, PROBE_ID elsewhere. */
  ownParams(route: ProbeRoute): Record<string, string> {
    return this.model.ownParams(route, this.identity?.principal);
  }

  /** Params that name no real object. */
  probeParams(route: ProbeRoute): Record<string, string> {
    return Object.fromEntries(route.parsed.params.map((name) => [name, PROBE_ID]));
  }
}

/** `200` → `2xx`-style tests. */
export const is2xx = (status: number) => status >= 200 && status < 300;
export const is5xx = (status: number) => status >= 500;
/** A refusal that says nothing about the check: the probe was rate limited or the gateway could not decide. */
export const isBusy = (status: number) => status === 429 || status === 503;

/** The status line of a response for the report: `200`, `308 → https://…`. */
export function describeStatus(response: ProbeResponse): string {
  const location = response.headers.get('location');
  return location && response.status >= 300 && response.status < 400 ? `${response.status} → ${location}` : String(response.status);
}
