/**
 * Which runtimes hand the Node adapter the client certificate. `serve({ tls })` runs on node:https
 * under Node, Deno and Bun (the real binaries): Node and Deno give the certificate (DER and the
 * verdict against `ca`); Bun 1.4's node:https sockets have no `getPeerCertificate`, so there no
 * certificate counts and both mTLS and certificate-bound tokens fail closed. (`Bun.serve` and
 * `Deno.serve` give a fetch handler no peer certificate at all; there, use a header from a trusted proxy.)
 */
import { request } from 'node:https';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeBinary, SOURCE_CONDITION, spawnServer } from '../conformance/runtime.ts';
import { boundToken, makeTestPki, type TestCertificate } from '../fixtures/certificates.ts';
import { es256, jwksOf } from '../fixtures/keys.ts';

const pki = makeTestPki();
afterAll(() => pki.remove());
const jwks = JSON.stringify(jwksOf(es256));
const script = 'test/node/mtls-server.ts';

const runtimes = [
  { name: 'node', certificates: true, start: () => spawnServer(process.execPath, [SOURCE_CONDITION, '--import', 'tsx', script, pki.dir, jwks]) },
  {
    name: 'deno',
    certificates: true,
    start: () => spawnServer(runtimeBinary('deno'), ['run', SOURCE_CONDITION, '--no-prompt', '--allow-net=127.0.0.1', `--allow-read`, script, pki.dir, jwks], { DENO_NO_UPDATE_CHECK: '1' }),
  },
  { name: 'bun', certificates: false, start: () => spawnServer(runtimeBinary('bun'), [SOURCE_CONDITION, script, pki.dir, jwks]) },
];

function get(base: string, path: string, certificate?: TestCertificate, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { ca: pki.ca.cert, cert: certificate?.cert, key: certificate?.key, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}


describe.each(runtimes)('serve({ tls }) on $name', ({ name, certificates, start }) => {
  it(certificates ? 'authenticates by the client certificate and binds tokens to it' : 'sees no client certificate, and fails closed', async () => {
    const server = await start();
    try {
      expect(server.base).toMatch(/^https:/);
      const token = { authorization: `Bearer ${await boundToken(pki.billing)}` };
      const partner = await get(server.base, '/v1/partner', pki.billing);
      const boundWith = await get(server.base, '/v1/me', pki.billing, token);
      const boundWithout = await get(server.base, '/v1/me', undefined, token);
      const stranger = await get(server.base, '/v1/partner', pki.stranger);
      if (certificates) {
        expect([partner.status, partner.body.id]).toEqual([200, 'svc_billing']);
        expect(boundWith.status).toBe(200);
        expect([stranger.status, stranger.body.code]).toEqual([401, 'authn.certificate_unverified']);
      } else {
        expect([partner.status, partner.body.code], name).toEqual([401, 'authn.required']);
        expect([boundWith.status, boundWith.body.code], name).toEqual([401, 'authn.bound_certificate_missing']);
        expect([stranger.status, stranger.body.code]).toEqual([401, 'authn.required']);
      }
      expect([boundWithout.status, boundWithout.body.code]).toEqual([401, 'authn.bound_certificate_missing']);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
