import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePolicy, mtls } from 'portcullis';
import { serve } from 'portcullis/node';

const policy = definePolicy({
  // The default source: the certificate of the TLS connection, as Node verified it against `ca`.
  clientCertificate: { from: 'tls' },
  authn: {
    partner: mtls({
      clients: {
        'uri:spiffe://example.org/billing': { principal: 'svc_billing', roles: ['service'] },
        'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08': { principal: 'partner_acme', roles: ['partner'] },
      },
    }),
  },
  routes: {
    'GET /v1/invoices': { authn: ['partner'], allow: [{ roles: ['service', 'partner'] }] },
  },
});

const pem = (name: string) => readFileSync(join(process.env.TLS_DIR ?? 'tls', name));
const gateway = await serve(policy, (request, decision) => Response.json({ caller: decision.principal.id }), {
  port: Number(process.env.PORT ?? 8443),
  // requestCert asks every client for a certificate; rejectUnauthorized: false still lets clients
  // without one connect (the policy refuses them on this route, and other routes may take tokens).
  tls: { key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: false },
});
console.log(`listening on ${gateway.url}`);
