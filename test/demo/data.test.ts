/**
 * The demo's data at rest and on the way out, over real HTTP: users live in PGlite with emails
 * sealed, every input reaches SQL as a parameter only, and the login address the origin sends for
 * every user reaches admins only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';
import { fieldKeyring, generateFieldKey } from '../../src/crypto/index.ts';

const FIELD_KEY = generateFieldKey();
const keyring = fieldKeyring({ keys: { k1: FIELD_KEY }, current: 'k1' });
const PASSWORDS: Record<string, string> = { alice: 'correct horse battery staple', bob: 'hunter2 hunter2 hunter2' };

let demo: Awaited<ReturnType<typeof startDemo>>;
let alice: string;
let bob: string;

function login(username: string, password: string, headers: Record<string, string> = {}) {
  return fetch(`${demo.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) });
}
async function tokenOf(username: string, headers: Record<string, string> = {}) {
  const response = await login(username, PASSWORDS[username]!, headers);
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}
const as = (token: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { ...(init.headers as object), authorization: `Bearer ${token}` } });

beforeAll(async () => {
  demo = await startDemo({ env: { DEMO_FIELD_KEY: FIELD_KEY, RATE_LIMIT: '10000', LOGIN_RATE_LIMIT: '10000' }, port: 0, log: () => {} });
  alice = await tokenOf('alice');
  bob = await tokenOf('bob');
}, 120_000);
afterAll(() => demo?.close());

describe('emails at rest', () => {
  it('stores ciphertext bound to each user, never the address', async () => {
    const { users } = await demo.database.dump();
    expect(users.map((row) => row.id)).toEqual(['u_alice', 'u_bob']);
    for (const row of users) {
      expect(row).not.toHaveProperty('email');
      expect(row.email_sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(JSON.stringify(row)).not.toContain('example.com');
      expect(await keyring.open(row.email_sealed, { record: row.id, column: 'users.email' })).toBe(`${row.username}@example.com`);
    }
    // Alice's sealed email copied onto Bob's row does not open as his.
    await expect(keyring.open(users[0]!.email_sealed, { record: 'u_bob', column: 'users.email' })).rejects.toMatchObject({ code: 'ERR_SEAL_REJECTED' });
  });

  it('keeps a password hash, never the password', async () => {
    const { users } = await demo.database.dump();
    for (const row of users) {
      expect(row.password_hash).toMatch(/^scrypt\$/);
      expect(JSON.stringify(row)).not.toContain(PASSWORDS[row.username]!);
    }
  });

  it('serves the opened email to its owner', async () => {
    const response = await fetch(`${demo.url}/v1/users/u_alice`, as(alice));
    expect(await response.json()).toMatchObject({ id: 'u_alice', email: 'alice@example.com' });
  });
});

describe('lastLoginIp', () => {
  it('is recorded at login, from the address the gateway resolved', async () => {
    // 127.0.0.1 is a trusted proxy in the demo: its X-Forwarded-For names the client.
    await tokenOf('alice', { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' });
    const row = (await demo.database.dump()).users.find((user) => user.id === 'u_alice');
    expect(row?.last_login_ip).toBe('203.0.113.7');
  });

  it.each(['/v1/users/u_alice', '/v0/users/u_alice'])('reaches an admin on GET %s', async (path) => {
    const user = (await (await fetch(`${demo.url}${path}`, as(bob))).json()) as Record<string, unknown>;
    expect(user).toMatchObject({ id: 'u_alice', email: 'alice@example.com', lastLoginIp: '203.0.113.7' });
  });

  it.each(['/v1/users/u_alice', '/v0/users/u_alice'])('is removed for the owner on GET %s (the origin sent it)', async (path) => {
    const response = await fetch(`${demo.url}${path}`, as(alice));
    expect(response.status).toBe(200);
    const user = (await response.json()) as Record<string, unknown>;
    expect(user).toEqual({ id: 'u_alice', name: expect.any(String), email: 'alice@example.com' });
  });

  it('is removed from the owner\'s PATCH answer too', async () => {
    const response = await fetch(`${demo.url}/v1/users/u_alice`, as(alice, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice Liddell' }) }));
    expect(response.status).toBe(200);
    expect(await response.json()).not.toHaveProperty('lastLoginIp');
  });
});

describe('SQL injection through every demo input', () => {
  const PAYLOADS = [
    "' OR '1'='1",
    "u_alice' --",
    "'; DROP TABLE users; --",
    "x'); DELETE FROM users; --",
    "' UNION SELECT id, username, name, email_sealed, roles, password_hash, last_login_ip FROM users --",
    '$1',
    "\\'; TRUNCATE users; --",
  ];

  it('leaves the table as it was: each payload is data, or refused', async () => {
    const before = await demo.database.dump();
    let lastName: string | undefined;
    let lastEmail: string | undefined;
    for (const payload of PAYLOADS) {
      const id = encodeURIComponent(payload);
      // Login: username and password.
      expect((await login(payload, 'x')).status).toBe(401);
      expect((await login('alice', payload)).status).toBe(401);
      expect((await login(payload, payload)).status).toBe(401);
      // Path ids, as an admin (who passes the gateway's owner check) and as a user.
      for (const method of ['GET', 'DELETE', 'PATCH']) {
        const init = method === 'PATCH' ? { method, headers: { 'content-type': 'application/json' }, body: '{"name":"Mallory"}' } : { method };
        const byAdmin = await fetch(`${demo.url}/v1/users/${id}`, as(bob, init));
        expect([400, 404]).toContain(byAdmin.status);
        const byUser = await fetch(`${demo.url}/v1/users/${id}`, as(alice, init));
        expect([400, 403]).toContain(byUser.status);
      }
      // PATCH fields: a name is stored as the text it is; an email the schema refuses or stores as text.
      const name = `${payload} `.slice(0, 100);
      const patched = await fetch(`${demo.url}/v1/users/u_alice`, as(alice, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) }));
      expect(patched.status).toBe(200);
      expect(((await patched.json()) as { name: string }).name).toBe(name);
      lastName = name;
      const email = `a${payload.replace(/\s/g, '')}@example.com`;
      const emailed = await fetch(`${demo.url}/v1/users/u_alice`, as(alice, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) }));
      expect([200, 422]).toContain(emailed.status);
      if (emailed.status === 200) lastEmail = email;
      // Query strings, on every route that takes a GET.
      const query = `?id=${id}&username=${id}&q=${id}`;
      for (const path of ['/v1/users/u_alice', '/v0/users/u_alice', '/v1/reports', '/v1/health']) {
        expect((await fetch(`${demo.url}${path}${query}`, as(bob))).status).toBeLessThan(500);
      }
    }

    const after = await demo.database.dump();
    expect(after.tables).toEqual(before.tables);
    expect(after.users.map((row) => row.id)).toEqual(before.users.map((row) => row.id));
    const [aliceBefore, ...others] = before.users;
    const [aliceAfter, ...othersAfter] = after.users;
    expect(othersAfter).toEqual(others);
    // Alice's row differs only in what her own PATCHes set, stored exactly as sent.
    expect({ ...aliceAfter, name: undefined, email_sealed: undefined }).toEqual({ ...aliceBefore, name: undefined, email_sealed: undefined });
    expect(aliceAfter!.name).toBe(lastName);
    const email = await keyring.open(aliceAfter!.email_sealed, { record: 'u_alice', column: 'users.email' });
    expect(email).toBe(lastEmail ?? 'alice@example.com');
  }, 120_000);
});
