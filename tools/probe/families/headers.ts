/**
 * Every answer the target gave during the run, judged once at the end: the policy's security
 * headers present, no header naming the server software, no stack trace in a body.
 * @module
 */

import { CHECKS } from '../checks.ts';
import { fail, pass, type ProbeContext } from '../context.ts';
import type { Exchange } from '../http.ts';

/** Lines such as `    at handler (/srv/app/index.js:12:7)` or a Python traceback. */
const STACK_TRACE = /^\s+at .+:\d+:\d+\)?\s*$|Traceback \(most recent call last\)/m;

export function probeHeaders(ctx: ProbeContext) {
  const exchanges = ctx.session.exchanges.filter((exchange) => !exchange.request.plain);
  if (!exchanges.length) return;
  const policy = ctx.model.policy;
  const expected: [string, string | undefined][] = [['x-content-type-options', 'nosniff']];
  if (policy.transport?.hsts !== false) expected.push(['strict-transport-security', undefined]);
  if (policy.headers?.frameOptions !== false) expected.push(['x-frame-options', undefined]);
  if (policy.headers?.contentSecurityPolicy !== false) expected.push(['content-security-policy', undefined]);
  if (policy.headers?.referrerPolicy !== false) expected.push(['referrer-policy', undefined]);

  const judge = (check: typeof CHECKS.missingHeader, expectation: string, bad: (exchange: Exchange) => string | undefined, message: (first: Exchange, detail: string, count: number) => string) => {
    const offending = exchanges.map((exchange) => ({ exchange, detail: bad(exchange) })).filter((entry) => entry.detail !== undefined);
    const first = offending[0];
    const request = first?.exchange.request ?? exchanges[0]!.request;
    ctx.settle(
      check,
      '*',
      request,
      expectation,
      first
        ? fail('warning', `${first.detail} on ${offending.length} of ${exchanges.length} responses (first: ${first.exchange.response.status} ${first.exchange.request.method} ${first.exchange.request.target})`, message(first.exchange, first.detail!, offending.length))
        : pass(`on all ${exchanges.length} responses`),
    );
  };

  for (const [name, value] of expected) {
    judge(
      CHECKS.missingHeader,
      `${name}${value ? `: ${value}` : ''} on every response`,
      (exchange) => {
        const actual = exchange.response.headers.get(name);
        if (actual === null) return `no ${name}`;
        if (value !== undefined && actual.toLowerCase() !== value) return `${name}: ${actual}`;
        return undefined;
      },
      (_first, detail, count) => `${count} responses lack a correct ${name} (${detail})`,
    );
  }
  judge(
    CHECKS.leakyHeader,
    'no X-Powered-By, no Server',
    (exchange) => {
      const named = ['x-powered-by', 'server'].filter((name) => exchange.response.headers.has(name));
      return named.length ? named.map((name) => `${name}: ${exchange.response.headers.get(name)}`).join(', ') : undefined;
    },
    (_first, detail) => `responses name the server software (${detail})`,
  );
  judge(
    CHECKS.stackTrace,
    'no stack trace in any body',
    (exchange) => (STACK_TRACE.test(exchange.response.body) ? 'a stack trace' : undefined),
    () => 'a response body shows a stack trace: internals reach the caller',
  );
}
