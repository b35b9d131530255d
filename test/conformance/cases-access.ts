/**
 * Conformance cases of the access rules: `ip` allow and deny lists on the client address each
 * runtime reports (127.0.0.1: the socket, or CF-Connecting-IP from the runner on workerd), which a
 * forwarding header from an untrusted peer cannot change; and a quota of one call a day.
 * @module
 */

import keys from './keys.json' with { type: 'json' };
import type { Case } from './cases.ts';

const PROBLEM = { 'content-type': 'application/problem+json' };
const problem = (code: string, status: number) => ({ type: `https://portcullis.dev/problems/${code}`, code, status });
const key = { 'x-api-key': keys.apiKey.key };

export const accessCases: Case[] = [
  {
    name: 'ip: a client inside the allow list is let through',
    request: { method: 'GET', target: '/v1/loopback-only' },
    expect: { status: 200, json: { principal: 'anonymous' } },
  },
  {
    name: 'ip: a client inside the deny list gets 403 network.ip_denied',
    request: { method: 'GET', target: '/v1/loopback-refused' },
    expect: { status: 403, headers: PROBLEM, json: problem('network.ip_denied', 403) },
  },
  {
    name: 'ip: X-Forwarded-For from an untrusted peer does not move a denied client out of the deny list',
    request: { method: 'GET', target: '/v1/loopback-refused', headers: { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.1' } },
    expect: { status: 403, json: problem('network.ip_denied', 403) },
  },
  {
    name: 'ip: X-Forwarded-For from an untrusted peer does not move an allowed client out of the allow list',
    request: { method: 'GET', target: '/v1/loopback-only', headers: { 'x-forwarded-for': '203.0.113.9' } },
    expect: { status: 200, json: { principal: 'anonymous' } },
  },
  {
    name: 'quota: the one call of the day is let through, with the quota in the RateLimit fields',
    request: { method: 'GET', target: '/v1/metered', headers: key },
    expect: { status: 200, headers: { 'ratelimit-policy': '"metered";q=1;w=86400', ratelimit: /^"metered";r=0;t=\d+$/ }, json: { principal: 'svc_reports' } },
  },
  {
    name: 'quota: the next call gets 429 quota.exhausted with Retry-After at the end of the UTC day',
    request: { method: 'GET', target: '/v1/metered', headers: key },
    expect: { status: 429, headers: { ...PROBLEM, 'retry-after': /^\d+$/, ratelimit: /^"metered";r=0;t=\d+$/ }, json: problem('quota.exhausted', 429) },
  },
];
