/**
 * The `haproxy` gateway of the bench: Debian's HAProxy (2.6+) doing what its configuration can say of
 * the bench policy — `jwt_verify` of the ES256 token on every request (HAProxy has no verified-token
 * cache), alg/iss/aud/exp, owner-or-admin on the path, a strict query (`fields` only), a stick-table
 * rate limit per `sub`, CORS for the one origin and the security headers — in front of the origin.
 * One thread, as a Node gateway has one.
 * @module
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, HOST, ISSUER, ORIGIN, RATE_LIMIT, type StackKey } from './scenario.ts';

/** A free port of 127.0.0.1 (HAProxy cannot report the one it picked). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function config(port: number, origin: URL, publicKeyPath: string): string {
  const security = [
    ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['referrer-policy', 'no-referrer'],
    ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
    ['cross-origin-opener-policy', 'same-origin'],
    ['cross-origin-resource-policy', 'same-origin'],
    ['cache-control', 'no-store'],
  ];
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 5s
frontend gateway
  bind ${HOST}:${port}
  stick-table type string len 64 size 100k expire ${RATE_LIMIT.windowMs / 1000}s store http_req_rate(${RATE_LIMIT.windowMs / 1000}s)
  http-request deny deny_status 404 unless { path_reg ^/users/[^/]+$ } METH_GET
  # A strict query: only fields=…
  http-request deny deny_status 400 if { query -m reg (^|&)(?!fields=)[^&] }
  http-request set-var(txn.bearer) http_auth_bearer
  http-request deny deny_status 401 unless { var(txn.bearer) -m found }
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str ES256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${publicKeyPath}") -m int 1 }
  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('$.sub')
  http-request set-var(txn.role) var(txn.bearer),jwt_payload_query('$.roles[0]')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 unless { var(txn.iss) -m str ${ISSUER} } { var(txn.aud) -m str ${AUDIENCE} }
  http-request deny deny_status 401 unless { var(txn.exp),sub(txn.now) -m int gt 0 }
  # Owner (the path's id is the token's sub) or admin (HAProxy 2.6 reads one array element: roles[0]).
  http-request set-var(txn.id) path,field(3,/)
  http-request deny deny_status 403 unless { var(txn.id),strcmp(txn.sub) eq 0 } || { var(txn.role) -m str admin }
  http-request track-sc0 var(txn.sub)
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt ${RATE_LIMIT.limit} }
  http-request set-var(txn.origin) req.hdr(origin)
  http-request del-header authorization
  http-request set-header x-forwarded-for %[src]
  http-response set-header access-control-allow-origin ${ORIGIN} if { var(txn.origin) -m str ${ORIGIN} }
  http-response set-header access-control-allow-credentials true if { var(txn.origin) -m str ${ORIGIN} }
  http-response add-header vary origin
${security.map(([name, value]) => `  http-response set-header ${name} "${value}"`).join('\n')}
  default_backend origin
backend origin
  http-reuse always
  server origin ${origin.hostname}:${origin.port}
`;
}

/** Starts HAProxy in front of `origin` with `key`'s public key; resolves once it answers. */
export async function startHaproxy(key: StackKey, origin: string): Promise<{ child: ChildProcess; port: number }> {
  if (key.alg !== 'ES256' || !key.publicJwk) throw new Error('haproxy: the gateway run signs with ES256');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-haproxy-'));
  const publicKeyPath = join(dir, 'public.pem');
  writeFileSync(publicKeyPath, createPublicKey({ key: key.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
  const port = await freePort();
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, config(port, new URL(origin), publicKeyPath));
  const child = spawn('haproxy', ['-db', '-f', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode} (its configuration: ${configPath})`);
    try {
      await fetch(`http://${HOST}:${port}/`);
      return { child, port };
    } catch {
      if (Date.now() > deadline) throw new Error('haproxy: no answer after 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
