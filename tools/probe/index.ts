/**
 * `portcullis probe`, as a library: a DAST run derived from a policy. For every route it knows what
 * must be refused, and it tries — no credentials, the JWT attack corpus, another user's objects,
 * path spellings, method overrides, look-alike CORS origins, hostile bodies, plain HTTP,
 * `X-Forwarded-For` rotation against rate limits — then checks every answer's security headers.
 *
 * It talks to the origin of the base URL only (and, for an https target, the same host over plain
 * HTTP), never follows a redirect, and stops at a request budget.
 *
 * @example
 * ```ts
 * import { probe, formatProbeReport } from 'portcullis/probe';
 * const report = await probe(policy, { baseUrl: 'https://staging.example.com', credentials: { token } });
 * console.log(formatProbeReport(report));
 * if (report.summary.errors) process.exitCode = 1;
 * ```
 * @module
 */

export { probe, ProbeSetupError, type FamilySummary, type ProbeCredentials, type ProbeOptions, type ProbeReport } from './probe.ts';
export { ALL_CHECKS, CHECKS, FAMILIES, type ProbeCheck, type ProbeFamily } from './checks.ts';
export type { CheckRecord, ProbeFinding, Severity } from './context.ts';
export { fetchSender, redact, type ProbeRequest, type ProbeResponse, type ProbeSender, type RequestSummary, type SendInit } from './http.ts';
export { formatProbeReport, toProbeJson } from './format.ts';
export { probeToSarif } from './sarif.ts';
