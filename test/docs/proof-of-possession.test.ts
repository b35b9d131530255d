/**
 * docs/proof-of-possession.md's mTLS examples, run as a reader would run them: the Node server over
 * real TLS with an openssl-made PKI, and the proxy policy against requests from its proxy and from
 * anyone else.
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/index.ts';
import { SOURCE_CONDITION, spawnServer } from '../conformance/runtime.ts';
import { makeTestPki, type TestCertificate } from '../fixtures/certificates.ts';

const pki = makeTestPki();
afterAll(() => pki.remove());

describe('docs/examples/mtls-node.ts', () => {
  let server: Awaited<ReturnType<typeof spawnServer>>;
  beforeAll(async () => void (server = await spawnServer(process.execPath, [SOURCE_CONDITION, '--import', 'tsx', 'docs/examples/mtls-node.ts'], { PORT: '0', TLS_DIR: pki.dir })), 40_000);
  afterAll(() => server?.stop());

  const get = (certificate?: TestCertificate) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.base}/v1/invoices`, { ca: pki.ca.cert, cert: certificate?.cert, key: certificate?.key, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves https, and answers the client whose certificate names a known SAN URI', async () => {
    expect(server.base).toMatch(/^https:/);
    expect(await get(pki.billing)).toEqual({ status: 200, body: '{"caller":"svc_billing"}' });
  });

  it('refuses a client without a certificate, and one whose CA it does not trust', async () => {
    expect((await get()).status).toBe(401);
    expect(JSON.parse((await get(pki.stranger)).body)).toMatchObject({ code: 'authn.certificate_unverified' });
  });
});

describe('docs/examples/mtls-proxy.ts', () => {
  it('believes the certificate header from its proxy only', async () => {
    const { default: policy } = await import('../../docs/examples/mtls-proxy.ts');
    const engine = createEngine(policy, { log: () => {} });
    const headers = { 'x-forwarded-client-cert': `Hash=${pki.billing.sha256};URI=spiffe://example.org/ns/billing/sa/batch` };
    const from = async (address: string) => engine.evaluate(new Request('https://api.example.com/v1/invoices', { headers }), { peer: { address, scheme: 'https' } });
    expect((await from('10.0.0.2')).kind).toBe('allow');
    const forged = await from('203.0.113.9');
    expect(forged.kind === 'deny' && forged.reason).toBe('authn.certificate_untrusted_source');
  });
});
