/**
 * From an exchange to a decision: the per-request state the engine starts each request with, the
 * `Allow` for a request no stage refused, the `Deny` for a refusal, and the log line of each.
 * @module
 */

import { compileAllowedLog } from './allowed-log.ts';
import type { Client } from './client.ts';
import { problemFor, reasonInfo, type Allow, type Deny, type Problem } from './decision.ts';
import { describeError, principalLabel, type EvaluateContext, type Exchange, type Refusal, type StageEnv } from './exchange.ts';
import { handoff } from './handoff.ts';
import { HeaderList } from './header-list.ts';
import type { SecuritySink } from './log.ts';
import type { Policy } from './policy/types.ts';
import { reportable } from './report-mode.ts';
import { compileSecurityHeaders } from './stages/headers.ts';

export interface Decisions {
  /** A fresh exchange: its request id, and the headers every answer carries. */
  begin(request: Request, context: EvaluateContext, method?: string): Exchange;
  allow(x: Exchange): Allow;
  /** A denial (or, with `answer`, a bodiless answer such as a preflight's 204), logged. `error` stays in the log. */
  deny(x: Exchange, refusal: Refusal): Deny;
  emit: StageEnv['emit'];
}

export interface DecisionsEnv {
  now(): number;
  randomId(): string;
  record: SecuritySink;
  /** What settles the exchange's failure-counting buckets after the response. */
  settler(x: Exchange): (status: number) => Promise<void>;
}

export function decisions(policy: Policy, env: DecisionsEnv): Decisions {
  const securityHeaders = compileSecurityHeaders(policy.headers, policy.transport);
  const reportOnly = policy.mode === 'report';
  const allowedLog = compileAllowedLog(policy.logging?.allowed);

  function begin(request: Request, context: EvaluateContext, method = request.method): Exchange {
    const requestId = env.randomId();
    const headers = new HeaderList(securityHeaders);
    headers.set('x-request-id', requestId);
    // Every response of a CORS policy varies by Origin, errors included, or a cache may serve one
    // origin's answer to another.
    if (policy.cors) headers.append('vary', 'Origin');
    const client: Client = { ip: 'unknown', scheme: 'http', forwarded: false, directLoopback: false };
    // Every field up front: one object shape for every exchange keeps the stages' property reads fast.
    return {
      request,
      context,
      requestId,
      method,
      trace: [],
      headers,
      report: reportOnly,
      client,
      target: undefined,
      href: undefined,
      segments: undefined,
      route: undefined,
      params: undefined,
      cacheControl: undefined,
      principal: undefined,
      query: undefined,
      input: undefined,
      forward: undefined,
      unread: undefined,
      touched: [],
    };
  }

  function allow(x: Exchange): Allow {
    if (typeof x.cacheControl === 'string') x.headers.set('cache-control', x.cacheControl);
    const decision: Allow = {
      kind: 'allow',
      requestId: x.requestId,
      client: x.client,
      route: x.route!,
      params: x.params!,
      principal: x.principal!,
      input: x.input!,
      request: handoff(x.forward!, x.request, x.href!),
      reasons: [],
      trace: x.trace,
      headers: x.headers,
      settle: env.settler(x),
    };
    return allowedLog?.sampled() ? loggedOnSettle(x, decision) : decision;
  }

  /** An allow whose settling, once the status is known, logs it as `portcullis.allow` (`logging.allowed`). */
  function loggedOnSettle(x: Exchange, decision: Allow): Allow {
    const fields = allowedLog!.fields(decision, x.target?.search ?? '');
    let logged = false;
    const settle = (status: number) => {
      if (!logged) emit(x, { event: 'portcullis.allow', reason: 'allow', status, ...fields });
      logged = true;
      return decision.settle(status);
    };
    return { ...decision, settle };
  }

  function deny(x: Exchange, refusal: Refusal): Deny {
    const { reason, answer } = refusal;
    const reasons = refusal.reasons ?? [reason];
    x.trace.push({ stage: refusal.stage, outcome: answer ? 'answer' : 'deny', detail: reasons.join('; ') });
    const status = answer ?? reasonInfo(reason).status;
    let problem: Problem | null = null;
    if (!answer) {
      problem = problemFor(reason, x.requestId);
      // Authorization failures say only "forbidden" to the caller; which rule failed is in the trace.
      if (refusal.detail !== undefined && !reason.startsWith('authz.')) problem.detail = refusal.detail;
      if (refusal.errors) problem.errors = refusal.errors;
      if (policy.dev) problem.trace = x.trace;
      const error = refusal.error === undefined ? undefined : describeError(refusal.error);
      const event = error !== undefined ? 'portcullis.error' : x.report && reportable(reason) ? 'portcullis.report' : 'portcullis.deny';
      // Which rules failed (`allow[1]: authz.not_owner`) goes to the log, never to the caller.
      const detailed = reasons.length !== 1 || reasons[0] !== reason ? reasons : undefined;
      emit(x, { event, reason, status, error, reasons: detailed });
    }
    const { requestId, client, route, trace, headers } = x;
    return { kind: 'deny', status, reason, reasons, problem, requestId, client, route, trace, headers, settle: env.settler(x) };
  }

  const emit: StageEnv['emit'] = (x, event) => {
    // The path as normalized, without the query (queries can carry credentials).
    const path = x.segments ? `/${x.segments.map(encodeURIComponent).join('/')}` : '(malformed)';
    const { requestId, method } = x;
    env.record({ time: new Date(env.now()).toISOString(), requestId, method, path, route: x.route ?? null, clientIp: x.client.ip, principal: principalLabel(x), ...event });
  };

  return { begin, allow, deny, emit };
}
