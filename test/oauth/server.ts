/**
 * A real OAuth 2.0 authorization server for the suite: oidc-provider on 127.0.0.1, with the
 * client-credentials grant, resource indicators (RFC 8707) choosing the token format per API,
 * RFC 9068 JWT access tokens, introspection (RFC 7662), revocation (RFC 7009) and DPoP (RFC 9449).
 *
 * Nothing here depends on NODE_ENV: oidc-provider 8 does not read it, and its only
 * development-only piece, the in-memory adapter, is what a test wants.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

/** The API that receives ES256 JWT access tokens. */
export const ORDERS_API = 'https://orders.api.test';
/** The API that receives RS256 JWT access tokens. */
export const REPORTS_API = 'https://reports.api.test';
/** The API that receives opaque access tokens, checked by introspection. */
export const LEGACY_API = 'https://legacy.api.test';

/** The confidential client that asks for tokens (client_credentials, client_secret_basic). */
export const SERVICE = { id: 'orders-service', secret: crypto.randomUUID() } as const;
/** The resource server's client: may introspect any token, may ask for none. */
export const GATEWAY = { id: 'gateway', secret: crypto.randomUUID() } as const;

/** Seconds an access token lives. */
export const TOKEN_TTL = 600;

const RESOURCE_SERVERS: Record<string, Record<string, unknown>> = {
  [ORDERS_API]: { audience: ORDERS_API, scope: 'orders:read orders:write', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  [REPORTS_API]: { audience: REPORTS_API, scope: 'reports:read', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  [LEGACY_API]: { audience: LEGACY_API, scope: 'legacy:read legacy:write', accessTokenFormat: 'opaque' },
};

/** What the provider publishes in its discovery document (the fields the suite uses). */
export interface Discovery {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
}

export interface AuthorizationServer {
  readonly discovery: Discovery;
  /**
   * A refresh token the provider issued to the service client for a user (as an authorization-code
   * grant with offline_access would), stored in the provider: its introspection answers active.
   */
  issueRefreshToken(accountId: string): Promise<string>;
  /** Closes the listener and every open connection; later calls do nothing. */
  stop(): Promise<void>;
}

async function signingKey(alg: 'ES256' | 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-provider` };
}

/** oidc-provider prints notices for development-only defaults; the suite knows, so it keeps them quiet. */
function quietly<T>(make: () => T): T {
  const { warn, info } = console;
  console.warn = console.info = () => {};
  try {
    return make();
  } finally {
    Object.assign(console, { warn, info });
  }
}

/**
 * Starts oidc-provider on 127.0.0.1 on a free port. The port is picked first, because the issuer
 * (and every endpoint URL in discovery) contains it.
 */
export async function startAuthorizationServer(): Promise<AuthorizationServer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const keys = [await signingKey('ES256'), await signingKey('RS256')];
  const provider = quietly(
    () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: SERVICE.id,
            client_secret: SERVICE.secret,
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'client_secret_basic',
          },
          { client_id: GATEWAY.id, client_secret: GATEWAY.secret, grant_types: [], response_types: [], redirect_uris: [] },
        ],
        jwks: { keys },
        cookies: { keys: [crypto.randomUUID()] },
        features: {
          devInteractions: { enabled: false },
          clientCredentials: { enabled: true },
          // RFC 9449: a token request with a DPoP proof gets a token bound to the proof's key.
          dPoP: { enabled: true },
          revocation: { enabled: true },
          introspection: {
            enabled: true,
            // The gateway is the resource server: it may introspect every token; a client only its own.
            allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) =>
              client.clientId === GATEWAY.id || client.clientId === token.clientId,
          },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => undefined,
            useGrantedResource: () => false,
            getResourceServerInfo: (_ctx: unknown, resource: string, client: { clientId: string }) => {
              const info = RESOURCE_SERVERS[resource];
              if (!info || client.clientId !== SERVICE.id) throw new errors.InvalidTarget();
              return { ...info, accessTokenTTL: TOKEN_TTL };
            },
          },
        },
        ttl: { ClientCredentials: () => TOKEN_TTL },
      }),
  );
  server.on('request', provider.callback());

  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Discovery;
  let stopped: Promise<void> | undefined;
  return {
    discovery,
    async issueRefreshToken(accountId) {
      const grant = new provider.Grant({ accountId, clientId: SERVICE.id });
      grant.addOIDCScope('openid offline_access');
      grant.addResourceScope(LEGACY_API, 'legacy:read');
      const grantId = await grant.save();
      const client = await provider.Client.find(SERVICE.id);
      const scope = 'openid offline_access';
      return new provider.RefreshToken({ accountId, client, grantId, gty: 'authorization_code', scope, resource: LEGACY_API }).save();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

/**
 * Asks the token endpoint for an access token (client_credentials, client_secret_basic); with a
 * DPoP proof for the token endpoint, a token bound to the proof's key.
 */
export async function requestToken(discovery: Discovery, resource: string, scope: string, dpopProof?: string) {
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth(SERVICE.id, SERVICE.secret), 'content-type': 'application/x-www-form-urlencoded', ...(dpopProof && { dpop: dpopProof }) },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body as { access_token: string; token_type: string; expires_in: number; scope?: string };
}

/** Revokes a token at the revocation endpoint, as the client that owns it. */
export async function revokeToken(discovery: Discovery, token: string) {
  const response = await fetch(discovery.revocation_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth(SERVICE.id, SERVICE.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  if (response.status !== 200) throw new Error(`revocation endpoint answered ${response.status}: ${await response.text()}`);
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded. */
const basicAuth = (id: string, secret: string) => `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;
