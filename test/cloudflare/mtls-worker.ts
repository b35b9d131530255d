/**
 * Test Worker: client certificates on Workers. Cloudflare's edge verifies them and tells the Worker
 * in `request.cf.tlsClientAuth`; the partner's fingerprint and subject come from bindings.
 * @module
 */

import { definePolicy, jwt, mtls } from '../../src/index.ts';
import { binding, gateway } from '../../adapters/cloudflare.ts';

export default gateway((env: Record<string, string>) =>
  definePolicy({
    clientIp: { trustedProxies: ['cloudflare'] },
    authn: {
      partner: mtls({
        clients: {
          [`sha256:${binding(env, 'PARTNER_SHA256')}`]: { principal: 'svc_partner' },
          [`subject:${binding(env, 'REPORTS_SUBJECT')}`]: { principal: 'svc_reports' },
        },
      }),
      user: jwt({ jwks: JSON.parse(binding(env, 'JWKS')), algorithms: ['ES256'], issuer: 'https://id.portcullis.test', audience: 'api' }),
    },
    routes: {
      'GET /v1/partner': { authn: ['partner'], allow: 'authenticated' },
      'GET /v1/me': { authn: ['user'], allow: 'authenticated' },
    },
  }),
);
