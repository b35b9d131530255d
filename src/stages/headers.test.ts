import { describe, expect, it, test } from 'vitest';
import { denialResponse } from '../decision.ts';
import { createEngine, type Engine } from '../engine.ts';
import type { SecurityEvent } from '../log.ts';
import type { HeadersPolicy, Policy } from '../policy/types.ts';
import type { AuthnMethod } from './authn.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const PEER = { peer: { address: '127.0.0.1' } };

const DEFAULTS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'permissions-policy': 'accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
};

const nobody: AuthnMethod = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' }) };

function engineFor(headers?: HeadersPolicy) {
  const events: SecurityEvent[] = [];
  const policy: Policy = {
    authn: { user: nobody },
    cors: { origins: ['https://app.example.com'] },
    ...(headers && { headers }),
    routes: {
      'GET /v1/health': { authn: 'anonymous' },
      'GET /v1/private': { authn: ['user'], allow: 'authenticated' },
    },
  };
  return createEngine(policy, { now: () => FIXED, randomId: () => 'req-1', log: (e) => events.push(e) });
}

/** The response the caller sees: a denial as problem+json, an allowed request through `engine.handle`. */
async function respond(engine: Engine, url: string, init: RequestInit = {}, rawTarget?: string) {
  return engine.handle(new Request(url, init), { ...PEER, rawTarget: rawTarget ?? new URL(url).pathname }, () => new Response('ok'));
}

describe('security headers', () => {
  const responses: [string, (engine: Engine) => Promise<Response> | Response][] = [
    ['an allowed request (engine.handle)', (engine) => respond(engine, 'https://api.example.com/v1/health')],
    ['a 404', (engine) => respond(engine, 'https://api.example.com/v1/nowhere')],
    ['a 405', (engine) => respond(engine, 'https://api.example.com/v1/health', { method: 'DELETE' })],
    ['a 401', (engine) => respond(engine, 'https://api.example.com/v1/private')],
    ['a 400 for a malformed path', (engine) => respond(engine, 'https://api.example.com/admin', {}, '/v1/%2e%2e/admin')],
    ['a 308 redirect', (engine) => respond(engine, 'http://api.example.com/v1/health')],
    ['a 403 plain-HTTP refusal', (engine) => respond(engine, 'http://api.example.com/v1/health', { method: 'POST' })],
    [
      'a 204 preflight',
      (engine) =>
        respond(engine, 'https://api.example.com/v1/health', {
          method: 'OPTIONS',
          headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
        }),
    ],
    [
      'a 500 from a throwing handler',
      (engine) =>
        engine.handle(new Request('https://api.example.com/v1/health'), PEER, () => {
          throw new Error('boom');
        }),
    ],
    ['the 400 of an unparseable request', (engine) => denialResponse(engine.reject(PEER))],
  ];

  test.each(responses)('are all set, with their defaults, on %s', async (_what, make) => {
    const response = await make(engineFor());
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect.soft(response.headers.get(name), name).toBe(value);
    }
  });

  it('are set on the allowed decision itself, for adapters that build their own response', async () => {
    const decision = await engineFor().evaluate(new Request('https://api.example.com/v1/health'), PEER);
    expect(decision.kind).toBe('allow');
    expect(Object.fromEntries([...decision.headers].filter(([name]) => name in DEFAULTS))).toEqual(DEFAULTS);
  });

  test.each([
    ['contentSecurityPolicy', 'content-security-policy', "default-src 'self'; img-src https:"],
    ['frameOptions', 'x-frame-options', 'SAMEORIGIN'],
    ['referrerPolicy', 'referrer-policy', 'strict-origin-when-cross-origin'],
    ['permissionsPolicy', 'permissions-policy', 'camera=(self)'],
    ['crossOriginOpenerPolicy', 'cross-origin-opener-policy', 'same-origin-allow-popups'],
    ['crossOriginResourcePolicy', 'cross-origin-resource-policy', 'cross-origin'],
  ] as const)('sets headers.%s as %s on allowed and denied responses', async (option, name, value) => {
    const engine = engineFor({ [option]: value });
    const allowed = await respond(engine, 'https://api.example.com/v1/health');
    const denied = await respond(engine, 'https://api.example.com/v1/nowhere');
    expect(allowed.headers.get(name)).toBe(value);
    expect(denied.headers.get(name)).toBe(value);
  });

  test.each([
    ['contentSecurityPolicy', 'content-security-policy'],
    ['frameOptions', 'x-frame-options'],
    ['referrerPolicy', 'referrer-policy'],
    ['permissionsPolicy', 'permissions-policy'],
    ['crossOriginOpenerPolicy', 'cross-origin-opener-policy'],
    ['crossOriginResourcePolicy', 'cross-origin-resource-policy'],
  ] as const)('removes %s (%s) with false and keeps the others', async (option, name) => {
    const engine = engineFor({ [option]: false });
    for (const response of [await respond(engine, 'https://api.example.com/v1/health'), await respond(engine, 'https://api.example.com/v1/nowhere')]) {
      expect(response.headers.has(name)).toBe(false);
      for (const [other, value] of Object.entries(DEFAULTS)) {
        if (other !== name) expect(response.headers.get(other), other).toBe(value);
      }
    }
  });

  it("overrides the handler's own weaker security headers", async () => {
    const engine = engineFor();
    const response = await engine.handle(new Request('https://api.example.com/v1/health'), PEER, () =>
      new Response('<html>', {
        headers: {
          'x-frame-options': 'ALLOWALL',
          'content-security-policy': 'default-src *',
          'x-content-type-options': 'none',
          'strict-transport-security': 'max-age=0',
          'referrer-policy': 'unsafe-url',
        },
      }),
    );
    for (const name of ['x-frame-options', 'content-security-policy', 'x-content-type-options', 'strict-transport-security', 'referrer-policy'] as const) {
      expect(response.headers.get(name), name).toBe(DEFAULTS[name]);
    }
  });

  test.each(['X-Powered-By', 'Server', 'X-AspNet-Version', 'X-AspNetMvc-Version'])('strips %s from the handler response', async (name) => {
    const engine = engineFor();
    const response = await engine.handle(new Request('https://api.example.com/v1/health'), PEER, () =>
      new Response('ok', { headers: { [name]: 'leaky/1.0', 'x-kept': 'yes' } }),
    );
    expect(response.headers.has(name)).toBe(false);
    expect(response.headers.get('x-kept')).toBe('yes');
  });
});
