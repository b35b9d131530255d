/**
 * The demo gateway's policy (see ../shared/DEMO.md): one file that replaces helmet, cors,
 * express-rate-limit and jsonwebtoken glue.
 * @module
 */

import { definePolicy } from '../src/index.ts';

/** What the demo reads from its environment. */
export interface DemoConfig {
  /** Exact CORS origins. */
  allowedOrigins: string[];
  /** CIDRs (or `loopback`) whose forwarding headers are believed. */
  trustedProxies: string[];
}

/** Reads `ALLOWED_ORIGINS` and `TRUSTED_PROXIES` (comma-separated) with the DEMO.md defaults. */
export function demoConfig(env: Record<string, string | undefined>): DemoConfig {
  const list = (value: string | undefined, fallback: string) =>
    (value ?? fallback).split(',').map((item) => item.trim()).filter(Boolean);
  return {
    allowedOrigins: list(env.ALLOWED_ORIGINS, 'https://app.example.com'),
    trustedProxies: list(env.TRUSTED_PROXIES, 'loopback'),
  };
}

/** The demo policy for a configuration. */
export function demoPolicy(config: DemoConfig) {
  return definePolicy({
    clientIp: { trustedProxies: config.trustedProxies },
    // HTTPS everywhere, except a developer talking to the demo directly on 127.0.0.1.
    transport: { requireHttps: true, allowLoopbackHttp: true, hsts: { maxAge: 31536000, includeSubDomains: true } },
    cors: { origins: config.allowedOrigins, credentials: true, maxAge: 86400, allowHeaders: ['authorization', 'content-type', 'x-api-key'] },
    headers: { contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'", frameOptions: 'DENY' },
    versions: {
      '/v0': { deprecation: '2026-06-01T00:00:00Z', sunset: '2027-06-01T00:00:00Z', link: 'https://demo.portcullis.dev/docs/migrate-to-v1' },
    },
    routes: {
      'GET /v1/health': { authn: 'anonymous' },
      'GET /.well-known/jwks.json': { authn: 'anonymous' },
      'POST /v1/auth/login': { authn: 'anonymous' },
    },
  });
}
