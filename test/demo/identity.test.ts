/**
 * The demo origin believes only the gateway's identity assertion: signed, for one method and target,
 * short-lived and accepted once. Whatever an attacker captures of a forwarded request (every header
 * of it) opens nothing when sent to the origin directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';

let demo: Awaited<ReturnType<typeof startDemo>>;
/** How far the origin's clock is ahead of the gateway's. */
let originSkewMs = 0;
const forwarded: { method: string; url: string; headers: Headers }[] = [];

beforeAll(async () => {
  demo = await startDemo({
    env: {},
    port: 0,
    log: () => {},
    originNow: () => Date.now() + originSkewMs,
    onForward: (request) => forwarded.push(request),
  });
});
afterAll(() => demo.close());

/** Alice's own record through the gateway, and every header the gateway sent the origin for it. */
async function capture(): Promise<Headers> {
  const login = await fetch(`${demo.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }),
  });
  const { token } = (await login.json()) as { token: string };
  const response = await fetch(`${demo.url}/v1/users/u_alice`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const sent = forwarded.at(-1)!;
  expect(new URL(sent.url).pathname).toBe('/v1/users/u_alice');
  return sent.headers;
}

/** Sends `headers` to the origin directly, as an attacker on its network would; its status and refusal code. */
async function atOrigin(path: string, headers: Headers, method = 'GET') {
  const response = await fetch(`${demo.originUrl}${path}`, { method, headers });
  const body = (await response.json()) as { code?: string };
  return [response.status, body.code];
}

describe('the demo origin refuses a captured request sent to it directly', () => {
  it('without any assertion', async () => {
    expect(await atOrigin('/v1/health', new Headers())).toEqual([403, 'identity.missing']);
  });

  it('replayed as it was, within the minute', async () => {
    expect(await atOrigin('/v1/users/u_alice', await capture())).toEqual([403, 'identity.replayed']);
  });

  it('replayed for another user', async () => {
    expect(await atOrigin('/v1/users/u_bob', await capture())).toEqual([403, 'identity.wrong_request']);
  });

  it('replayed with another method', async () => {
    expect(await atOrigin('/v1/users/u_alice', await capture(), 'DELETE')).toEqual([403, 'identity.wrong_request']);
  });

  it('replayed with another query', async () => {
    expect(await atOrigin('/v1/users/u_alice?x=1', await capture())).toEqual([403, 'identity.wrong_request']);
  });

  it('replayed after the assertion expired (60 s, and 5 of tolerance)', async () => {
    const headers = await capture();
    originSkewMs = 66_000;
    try {
      expect(await atOrigin('/v1/users/u_alice', headers)).toEqual([403, 'identity.expired']);
    } finally {
      originSkewMs = 0;
    }
  });

  it('while the gateway itself is served as before', async () => {
    const response = await fetch(`${demo.url}/v1/health`);
    expect([response.status, await response.json()]).toEqual([200, { status: 'ok' }]);
  });
});
