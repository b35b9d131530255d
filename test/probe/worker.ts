/**
 * Test infrastructure: the Worker of wrangler.toml (policies/worker.ts) on workerd, with an origin
 * that verifies identity assertions, a JWKS for wrangler.toml's JWKS_URL served by an outbound
 * Worker, and the same policy as a file `portcullis probe --policy` can load.
 *
 * policies/worker.ts default-exports `gateway((env) => policy)`, which hides its policy; the file
 * made here is that module bundled with `portcullis/cloudflare` swapped for test/probe/gateway-stub.ts,
 * so the probe reads the policy the Worker builds, from the same source and the same bindings.
 * @module
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { generateApiKey } from '../../src/index.ts';
import { startOrigin } from '../cloudflare/origin.ts';
import { startWorkerd } from '../cloudflare/workerd.ts';
import { es256, jwksOf } from '../fixtures/keys.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IDENTITY_KEY = 'probe-identity-key-0123456789abcdefghijklmnop';
const JWKS_URL = 'https://id.example.com/.well-known/jwks.json';

/** wrangler.toml's JWKS_URL, answered by an outbound Worker; the origin is reached as usual. */
const JWKS_WORKER = `export default {
  fetch(request, env) {
    if (request.url === env.JWKS_URL) return new Response(env.JWKS, { headers: { 'content-type': 'application/json' } });
    return fetch(request);
  },
};`;

export interface ProbeWorker {
  /** workerd's socket. */
  url: string;
  /** A policy file for `portcullis probe --policy`, and the env the CLI needs to read it. */
  policyFile: string;
  env: Record<string, string>;
  /** The API key the Worker accepts, the issuer's keys (private for --signing-key, public for --jwks). */
  apiKey: string;
  signingKeyFile: string;
  jwksFile: string;
  stop(): Promise<void>;
}

export async function startProbeWorker(): Promise<ProbeWorker> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-probe-'));
  const service = await generateApiKey('pk_test_');
  const origin = await startOrigin(IDENTITY_KEY);
  const bindings = {
    ORIGIN_URL: origin.url,
    PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY,
    API_KEYS: JSON.stringify({ [service.hash]: { principal: 'svc_reports', scopes: ['reports:read'] } }),
  };
  const worker = await startWorkerd({ bindings, outbound: { script: JWKS_WORKER, bindings: { JWKS_URL, JWKS: JSON.stringify(jwksOf(es256)) } } });

  const bundle = await build({
    entryPoints: [join(ROOT, 'policies/worker.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // `portcullis` by its own name resolves to the sources, not dist/.
    conditions: ['@portcullis/source'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'gateway-stub',
        setup(on) {
          on.onResolve({ filter: /^portcullis\/cloudflare$/ }, () => ({ path: join(ROOT, 'test/probe/gateway-stub.ts') }));
        },
      },
    ],
  });
  const policyFile = join(dir, 'worker-policy.mjs');
  writeFileSync(policyFile, bundle.outputFiles[0]!.text);
  const signingKeyFile = join(dir, 'signing-key.json');
  writeFileSync(signingKeyFile, JSON.stringify(es256.privateJwk));
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(jwksOf(es256)));
  // The vars the Worker reads from wrangler.toml, and the secrets given to it above.
  const env = { PROBE_WORKER_BINDINGS: JSON.stringify({ JWKS_URL, JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'api', ...bindings }) };

  return {
    url: worker.url.origin,
    policyFile,
    env,
    apiKey: service.key,
    signingKeyFile,
    jwksFile,
    async stop() {
      await worker.stop();
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
