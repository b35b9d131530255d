/**
 * Client certificates over real TLS on the Node adapter: `serve` with `tls` (requestCert, the CA
 * openssl made), clients connecting with `node:https` and their own certificates. Then the header
 * sources over real HTTP: an XFCC or nginx header from a trusted proxy address (127.0.0.1) and
 * from an untrusted one (127.0.0.2, the same loopback, another source address).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Running } from '../../adapters/node.ts';
import { definePolicy, jwt, mtls, type ClientCertificateOptions, type Policy } from '../../src/index.ts';
import { boundToken, escapedPem, makeTestPki, type TestCertificate } from '../fixtures/certificates.ts';
import { AUDIENCE, es256, ISSUER, jwksOf } from '../fixtures/keys.ts';

const pki = makeTestPki();

const policyOf = (clientCertificate: ClientCertificateOptions, trustedProxies: string[] = []): Policy =>
  definePolicy({
    clientIp: { trustedProxies },
    transport: { requireHttps: false },
    clientCertificate,
    authn: {
      partner: mtls({ clients: { 'uri:spiffe://example.org/billing': { principal: 'svc_billing', roles: ['service'] }, [`sha256:${pki.reports.sha256}`]: { principal: 'svc_reports' } } }),
      user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }),
    },
    routes: {
      'GET /v1/partner': { authn: ['partner'], allow: 'authenticated' },
      'GET /v1/me': { authn: ['user'], allow: 'authenticated' },
    },
  });

const echo = (_request: Request, decision: { principal: { id: string; method: string } }) => Response.json({ id: decision.principal.id, method: decision.principal.method });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

function answer(response: import('node:http').IncomingMessage): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text || '{}') as Record<string, unknown> }));
    response.on('error', reject);
  });
}

/** A GET over TLS, with a client certificate when given. */
function overTls(url: string, path: string, certificate?: TestCertificate, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${url}${path}`, { ca: pki.ca.cert, cert: certificate?.cert, key: certificate?.key, headers, agent: false }, (response) => answer(response).then(resolve, reject));
    request.on('error', reject);
    request.end();
  });
}

/** A GET over plain HTTP from the given loopback source address. */
function overHttp(url: string, path: string, localAddress: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, { localAddress, headers, agent: false }, (response) => answer(response).then(resolve, reject));
    request.on('error', reject);
    request.end();
  });
}

afterAll(() => pki.remove());


describe('serve({ tls }) with client certificates', () => {
  let gateway: Running;
  beforeAll(async () => {
    gateway = await serve(policyOf({ from: 'tls' }), echo, {
      port: 0,
      handleSignals: false,
      env: { log: () => {} },
      // Clients without a valid certificate still connect: the policy decides, per route.
      tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false },
    });
  });
  afterAll(() => gateway.close());

  it('serves https and authenticates a client by the SAN URI of its certificate', async () => {
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const response = await overTls(gateway.url, '/v1/partner', pki.billing);
    expect([response.status, response.body]).toEqual([200, { id: 'svc_billing', method: 'partner' }]);
  });

  it('authenticates a pinned certificate by its SHA-256 fingerprint', async () => {
    const response = await overTls(gateway.url, '/v1/partner', pki.reports);
    expect([response.status, response.body]).toEqual([200, { id: 'svc_reports', method: 'partner' }]);
  });

  it('asks a client without a certificate for credentials', async () => {
    const response = await overTls(gateway.url, '/v1/partner');
    expect([response.status, response.body.code]).toEqual([401, 'authn.required']);
    expect(response.headers['www-authenticate']).toBe('ClientCertificate realm="api"');
  });

  it('refuses a certificate from a CA the server does not trust, though it names a known client', async () => {
    const response = await overTls(gateway.url, '/v1/partner', pki.stranger);
    expect([response.status, response.body.code]).toEqual([401, 'authn.certificate_unverified']);
  });

  it('ignores an XFCC header when the source is the connection', async () => {
    const response = await overTls(gateway.url, '/v1/partner', undefined, { 'x-forwarded-client-cert': `Hash=${pki.reports.sha256}` });
    expect([response.status, response.body.code]).toEqual([401, 'authn.required']);
  });

  describe('a certificate-bound JWT (cnf x5t#S256)', () => {
    let token: string;
    beforeAll(async () => {
      token = await boundToken(pki.billing);
    });
    const bearer = () => ({ authorization: `Bearer ${token}` });

    it('is accepted over the connection made with its certificate', async () => {
      const response = await overTls(gateway.url, '/v1/me', pki.billing, bearer());
      expect(response.status).toBe(200);
    });

    it('is refused without a client certificate', async () => {
      const response = await overTls(gateway.url, '/v1/me', undefined, bearer());
      expect([response.status, response.body.code]).toEqual([401, 'authn.bound_certificate_missing']);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
    });

    it('is refused with another client certificate', async () => {
      const response = await overTls(gateway.url, '/v1/me', pki.reports, bearer());
      expect([response.status, response.body.code]).toEqual([401, 'authn.bound_certificate_mismatch']);
    });
  });
});

describe('certificate headers over real HTTP: a trusted proxy at 127.0.0.1, anyone else at 127.0.0.2', () => {
  const started: Running[] = [];
  afterAll(() => Promise.all(started.map((gateway) => gateway.close())));
  const start = async (source: ClientCertificateOptions) => {
    const gateway = await serve(policyOf(source, ['127.0.0.1/32']), echo, { port: 0, handleSignals: false, env: { log: () => {} } });
    started.push(gateway);
    return gateway;
  };

  it("believes Envoy's X-Forwarded-Client-Cert from the trusted proxy only", async () => {
    const gateway = await start({ from: 'xfcc' });
    const xfcc = { 'x-forwarded-client-cert': `Hash=${pki.billing.sha256};Cert="${encodeURIComponent(pki.billing.cert)}";URI=spiffe://example.org/billing` };
    const trusted = await overHttp(gateway.url, '/v1/partner', '127.0.0.1', xfcc);
    expect([trusted.status, trusted.body]).toEqual([200, { id: 'svc_billing', method: 'partner' }]);
    const untrusted = await overHttp(gateway.url, '/v1/partner', '127.0.0.2', xfcc);
    expect([untrusted.status, untrusted.body.code]).toEqual([401, 'authn.certificate_untrusted_source']);
  });

  it("believes nginx's escaped PEM from the trusted proxy only, and only when it says it verified it", async () => {
    const gateway = await start({ from: 'escaped-pem' });
    const nginx = { 'x-ssl-client-cert': escapedPem(pki.reports), 'x-ssl-client-verify': 'SUCCESS' };
    const trusted = await overHttp(gateway.url, '/v1/partner', '127.0.0.1', nginx);
    expect([trusted.status, trusted.body]).toEqual([200, { id: 'svc_reports', method: 'partner' }]);
    const untrusted = await overHttp(gateway.url, '/v1/partner', '127.0.0.2', nginx);
    expect([untrusted.status, untrusted.body.code]).toEqual([401, 'authn.certificate_untrusted_source']);
    const unverified = await overHttp(gateway.url, '/v1/partner', '127.0.0.1', { ...nginx, 'x-ssl-client-verify': 'FAILED:certificate has expired' });
    expect([unverified.status, unverified.body.code]).toEqual([401, 'authn.certificate_unverified']);
  });

  it('binds a token to the certificate the trusted proxy reports, and to no header anyone else sends', async () => {
    const gateway = await start({ from: 'xfcc' });
    const token = await boundToken(pki.billing);
    const headers = { authorization: `Bearer ${token}`, 'x-forwarded-client-cert': `Hash=${pki.billing.sha256}` };
    expect((await overHttp(gateway.url, '/v1/me', '127.0.0.1', headers)).status).toBe(200);
    const forged = await overHttp(gateway.url, '/v1/me', '127.0.0.2', headers);
    expect([forged.status, forged.body.code]).toEqual([401, 'authn.certificate_untrusted_source']);
  });
});
