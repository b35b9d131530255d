/**
 * The demo's strings over real HTTP: a name or username with a control character (NUL, ESC, DEL) or
 * over its maximum length is refused with 422 before the origin sees it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';

let demo: Awaited<ReturnType<typeof startDemo>>;
let alice: string;

const json = (body: unknown, token?: string, method = 'POST') => ({
  method,
  headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
  body: JSON.stringify(body),
});

beforeAll(async () => {
  demo = await startDemo({ env: {}, port: 0, log: () => {} });
  const login = await fetch(`${demo.url}/v1/auth/login`, json({ username: 'alice', password: 'correct horse battery staple' }));
  alice = ((await login.json()) as { token: string }).token;
});
afterAll(() => demo.close());

const patchAlice = (body: unknown) => fetch(`${demo.url}/v1/users/u_alice`, json(body, alice, 'PATCH'));

describe('control characters and lengths in the demo strings', () => {
  it.each([
    ['a NUL inside the name', { name: 'Alice\u0000admin' }],
    ['an escape sequence in the name', { name: '\u001b[31mAlice' }],
    ['a DEL in the name', { name: 'Ali\u007fce' }],
    ['a line break in the name', { name: 'Alice\r\nX-Admin: yes' }],
    ['a name of 101 characters', { name: 'a'.repeat(101) }],
    ['a NUL inside the email', { email: 'alice\u0000@example.com' }],
    ['an email of 255 characters', { email: `${'a'.repeat(64)}@${'b'.repeat(182)}.example` }],
  ])('PATCH /v1/users/u_alice refuses %s with 422, and the user is unchanged', async (_, body) => {
    const res = await patchAlice(body);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const user = (await (await fetch(`${demo.url}/v1/users/u_alice`, { headers: { authorization: `Bearer ${alice}` } })).json()) as { name: string; email: string };
    expect(user.name).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(user.email).not.toMatch(/[\u0000-\u001f\u007f]/);
  });

  it('accepts a name with non-ASCII letters and spaces', async () => {
    const res = await patchAlice({ name: 'Zoë Łukasiewicz' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'Zoë Łukasiewicz' });
  });

  it('refuses a login whose username carries a NUL with 422', async () => {
    expect((await fetch(`${demo.url}/v1/auth/login`, json({ username: 'alice\u0000', password: 'correct horse battery staple' }))).status).toBe(422);
  });
});
