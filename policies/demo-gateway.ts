/**
 * `npm start`: the demo origin on a private loopback port, and the portcullis gateway in front of it.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { serve as serveOrigin } from '@hono/node-server';
import { Redis } from '@upstash/redis';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { publicJwk as publicJwkOf } from '../src/authn/jwk.ts';
import { createClient } from 'redis';
import { ecsLineSink, forwardTo, generateApiKey, hashApiKey, jsonLineSink, type EngineObserver, type Handler } from '../src/index.ts';
import { otelObserver } from '../src/telemetry/otel.ts';
import { upstashStore } from '../src/stores/upstash.ts';
import { serve } from '../adapters/node.ts';
import { redisStore } from '../src/stores/redis.ts';
import { demoConfig, demoPolicy } from './demo.ts';
import { createDemoOrigin } from './demo-origin.ts';
import { recentEvents } from './demo-events.ts';
import { openDemoDatabase } from './demo-db.ts';
import { fieldKeyring, generateFieldKey } from '../src/crypto/index.ts';

export interface DemoOptions {
  env: Record<string, string | undefined>;
  /** Gateway port; 0 picks a free one. */
  port: number;
  handleSignals?: boolean;
  log?: (event: unknown) => void;
  /** The origin's clock (epoch ms), for tests that age an identity assertion. @default Date.now */
  originNow?: () => number;
  /** Sees each request the gateway sends the origin, as sent (tests capture and replay them). */
  onForward?: (request: { method: string; url: string; headers: Headers }) => void;
}

/** Loads `DEMO_SIGNING_KEY` (a private ES256 JWK) or makes a fresh key pair. */
async function signingKeys(env: Record<string, string | undefined>) {
  let privateJwk: JWK;
  if (env.DEMO_SIGNING_KEY) {
    privateJwk = JSON.parse(env.DEMO_SIGNING_KEY) as JWK;
  } else {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateJwk = await exportJWK(pair.privateKey);
  }
  // Only the public members: a WebCrypto export also carries key_ops ["sign"] and ext, and a
  // published key_ops without "verify" would make every verifier refuse the demo's tokens.
  const publicJwk = publicJwkOf(privateJwk, { kid: privateJwk.kid ?? `demo-${Date.now().toString(36)}`, alg: 'ES256' });
  const signingKey = (await importJWK({ ...privateJwk, alg: 'ES256' }, 'ES256')) as CryptoKey;
  return { signingKey, publicJwk };
}

/**
 * The rate-limit store the environment asks for: Upstash (`UPSTASH_REDIS_REST_URL` + `_TOKEN`, first),
 * a plain Redis (`REDIS_URL`), or neither: the engine's default memory store.
 */
function rateLimitStore(env: Record<string, string | undefined>) {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token, REDIS_URL: redisUrl } = env;
  if (url || token) {
    if (!url || !token) throw new Error('UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together');
    return { store: upstashStore({ redis: new Redis({ url, token }) }), name: `Upstash (${new URL(url).host})`, close: async () => {} };
  }
  if (redisUrl) {
    const store = redisStore({ url: redisUrl, createClient });
    return { store, name: `Redis (${new URL(redisUrl).host})`, close: () => store.close() };
  }
  return { store: undefined, name: 'memory (this process only)', close: async () => {} };
}

/**
 * With `METRICS_PORT`: Prometheus metrics at `http://127.0.0.1:$METRICS_PORT/metrics`, from the
 * OpenTelemetry Prometheus exporter, which serves them on its own loopback port.
 */
async function metrics(env: Record<string, string | undefined>): Promise<{ observer?: EngineObserver; url?: string; close: () => Promise<void> }> {
  if (!env.METRICS_PORT) return { close: async () => {} };
  const port = Number(env.METRICS_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`METRICS_PORT must be a port number, got "${env.METRICS_PORT}"`);
  const [{ PrometheusExporter }, { MeterProvider }] = await Promise.all([import('@opentelemetry/exporter-prometheus'), import('@opentelemetry/sdk-metrics')]);
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port, preventServerStart: true });
  await exporter.startServer();
  const meterProvider = new MeterProvider({ readers: [exporter] });
  return { observer: otelObserver({ meterProvider, spans: false }), url: `http://127.0.0.1:${port}/metrics`, close: () => meterProvider.shutdown() };
}

/**
 * The users database: PGlite in memory, or in `DEMO_DATA_DIR`; emails sealed with `DEMO_FIELD_KEY`
 * (base64url, 32 bytes), made at start when unset — then what a data directory holds opens only
 * in this run, so a data directory needs the key.
 */
function usersDatabase(env: Record<string, string | undefined>) {
  const { DEMO_FIELD_KEY: key, DEMO_DATA_DIR: dataDir } = env;
  if (dataDir && !key) throw new Error('DEMO_DATA_DIR needs DEMO_FIELD_KEY: emails sealed with a key made at start would not open in the next run');
  return openDemoDatabase({ keyring: fieldKeyring({ keys: { k1: key || generateFieldKey() }, current: 'k1' }), dataDir: dataDir || undefined });
}

/** Starts origin and gateway; returns their URLs and a close function. */
export async function startDemo(options: DemoOptions) {
  const { signingKey, publicJwk } = await signingKeys(options.env);
  // Gateway and origin share this key alone; the origin accepts only what the gateway signed with it.
  const identityKey = new Uint8Array(randomBytes(32));
  const database = await usersDatabase(options.env);

  // The origin listens on a loopback port nobody is told about; it refuses calls without a valid
  // identity assertion. It is built once its URL (the assertion's audience) is known.
  let origin: ReturnType<typeof createDemoOrigin> | undefined;
  const originServer = await new Promise<ReturnType<typeof serveOrigin>>((resolve) => {
    const server = serveOrigin({ fetch: (request, env) => origin!.fetch(request, env), port: 0, hostname: '127.0.0.1' }, () => resolve(server));
  });
  const originUrl = `http://127.0.0.1:${(originServer.address() as { port: number }).port}`;
  origin = createDemoOrigin({ signingKey, publicJwk, identityKey, audience: originUrl, now: options.originNow, database });
  const onForward = options.onForward;

  const config = demoConfig({ ...options.env, PORT: String(options.port) });
  const apiKey = options.env.DEMO_API_KEY ?? (await generateApiKey({ prefix: 'pk_demo' })).key;
  const webhookSecret = options.env.DEMO_WEBHOOK_SECRET || `whsec_${randomBytes(32).toString('base64')}`;
  const rateLimits = rateLimitStore(options.env);
  const telemetry = await metrics(options.env);
  // LOG_FORMAT=ecs: events in Elastic Common Schema field names.
  const log = (options.log as typeof jsonLineSink | undefined) ?? (options.env.LOG_FORMAT === 'ecs' ? ecsLineSink : jsonLineSink);
  // Every event the gateway logs also goes into a ring that admins read at GET /v1/admin/events.
  const events = recentEvents(log);
  const forward = forwardTo(originUrl, {
    identity: { key: identityKey },
    log: events.sink,
    ...(onForward && {
      fetch: (input: URL, init: RequestInit) => {
        onForward({ method: init.method ?? 'GET', url: input.href, headers: new Headers(init.headers) });
        return fetch(input, init);
      },
    }),
  });
  // The policy has checked the caller (an admin, from ADMIN_CIDRS) before this answers.
  // `context` carries serve()'s node:http client to forwardTo.
  const handler: Handler = (request, decision, context) =>
    decision.route === 'GET /v1/admin/events' ? Response.json({ events: events.list() }) : forward(request, decision, context);
  const gateway = await serve(demoPolicy(config, { publicJwk, apiKeyHash: await hashApiKey(apiKey), webhookSecret }), handler, {
    port: options.port,
    handleSignals: options.handleSignals ?? false,
    env: {
      log: events.sink,
      ...(rateLimits.store && { rateLimitStore: rateLimits.store }),
      ...(telemetry.observer && { observer: telemetry.observer }),
    },
  });

  return {
    url: gateway.url,
    /** The origin's private address: only tests call it, to show it refuses what did not come through the gateway. */
    originUrl,
    config,
    apiKey,
    webhookSecret,
    rateLimitStore: rateLimits.name,
    /** Where Prometheus scrapes, when `METRICS_PORT` is set. */
    metricsUrl: telemetry.url,
    /** The origin's users table: tests read it as stored. */
    database,
    async close() {
      await gateway.close();
      await telemetry.close();
      await rateLimits.close();
      await new Promise((resolve) => originServer.close(resolve));
      await database.close();
    },
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const demo = await startDemo({ env: process.env, port: Number(process.env.PORT ?? 8787) });
  const stop = () => void demo.close().then(() => process.exit(0));
  process.on('SIGTERM', stop).on('SIGINT', stop);
  console.error(
    [
      `portcullis demo gateway listening on ${demo.url}`,
      '',
      '  users (POST /v1/auth/login {"username","password"}):',
      '    alice / correct horse battery staple   (u_alice, role user)',
      '    bob   / hunter2 hunter2 hunter2        (u_bob, role admin)',
      `  demo API key (X-API-Key, GET /v1/reports): ${demo.apiKey}`,
      `  webhook secret (Standard Webhooks, POST /v1/webhooks/payments): ${demo.webhookSecret}`,
      `  CORS origins: ${demo.config.allowedOrigins.join(', ')}`,
      `  trusted proxies: ${demo.config.trustedProxies.join(', ') || '(none)'}`,
      `  admin networks (GET /v1/admin/events): ${demo.config.adminCidrs.join(', ')}`,
      `  API key quota (GET /v1/reports): ${demo.config.apiKeyQuota} calls per UTC day`,
      `  rate limits: ${demo.rateLimitStore}`,
      ...(demo.metricsUrl ? [`  Prometheus metrics: ${demo.metricsUrl}`] : []),
      '',
      `  try: curl -i ${demo.url}/v1/health`,
      '',
      'Security events follow as JSON lines on stdout.',
    ].join('\n'),
  );
}
