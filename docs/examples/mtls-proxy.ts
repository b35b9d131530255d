import { definePolicy, jwt, mtls } from 'portcullis';

// Behind Envoy at 10.0.0.2, which verifies client certificates and sets X-Forwarded-Client-Cert
// (forward_client_cert_details: SANITIZE_SET). From any other address the header is refused.
export default definePolicy({
  clientIp: { trustedProxies: ['10.0.0.2'] },
  clientCertificate: { from: 'xfcc' },
  authn: {
    partner: mtls({ clients: { 'uri:spiffe://example.org/ns/billing/sa/batch': { principal: 'svc_billing', roles: ['service'] } } }),
    // A token whose cnf["x5t#S256"] names a certificate counts only with that certificate.
    user: jwt({ jwksUrl: 'https://id.example.com/.well-known/jwks.json', algorithms: ['ES256'], issuer: 'https://id.example.com', audience: 'api' }),
  },
  routes: {
    'GET /v1/invoices': { authn: ['partner'], allow: [{ roles: ['service'] }] },
    'GET /v1/accounts/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }] },
  },
});
