// The Node adapter serving HTTPS with client certificates, for node, deno and bun (their node:https):
// `<runtime> test/node/mtls-server.ts <pki dir> <public JWKS JSON>`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from 'portcullis/node';
import { definePolicy, jwt, mtls } from 'portcullis';

const [dir, jwks] = process.argv.slice(2) as [string, string];
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');

const policy = definePolicy({
  transport: { requireHttps: true },
  authn: {
    partner: mtls({ clients: { 'uri:spiffe://example.org/billing': { principal: 'svc_billing' } } }),
    user: jwt({ jwks: JSON.parse(jwks), algorithms: ['ES256'], issuer: 'https://id.portcullis.test', audience: 'api' }),
  },
  routes: {
    'GET /v1/partner': { authn: ['partner'], allow: 'authenticated' },
    'GET /v1/me': { authn: ['user'], allow: 'authenticated' },
  },
});

const gateway = await serve(policy, (_request, decision) => Response.json({ id: decision.principal.id }), {
  port: 0,
  env: { log: () => {} },
  tls: { key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: false },
});
console.error(`listening on ${gateway.url}`);
