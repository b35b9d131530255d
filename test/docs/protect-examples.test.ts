/**
 * The examples of docs/response-protection.md and docs/crypto.md, run as a reader would use them:
 * the policy in front of its application with tokens from the test kit, the keyring on its own.
 */
import { describe, expect, it } from 'vitest';
import { createTestEngine, createTestKit } from '../../tools/testing/index.ts';
import { fieldKeyring, generateFieldKey } from '../../src/crypto/index.ts';

describe('response-protection.ts', async () => {
  const { policy, origin } = await import('../../docs/examples/response-protection.ts');
  const kit = await createTestKit();
  const engine = createTestEngine(policy, kit);
  const get = async (path: string, claims: Record<string, unknown>) =>
    engine.handle(new Request(`https://api.example.com${path}`, { headers: { authorization: `Bearer ${await kit.sign({ iss: 'https://id.example.com', aud: 'api', ...claims })}` } }), { peer: { address: '192.0.2.1', scheme: 'https' } }, origin);

  it('gives the owner her record without the login address, push tokens or the undeclared hash', async () => {
    const response = await get('/v1/users/u_alice', { sub: 'u_alice', roles: ['user'] });
    expect(await response.json()).toEqual({ id: 'u_alice', name: 'Alice', email: 'alice@example.com', devices: [{ model: 'Pixel 9' }] });
  });

  it('gives an admin every declared field, never the undeclared one', async () => {
    const response = await get('/v1/users/u_alice', { sub: 'u_bob', roles: ['admin'] });
    expect(await response.json()).toEqual({ id: 'u_alice', name: 'Alice', email: 'alice@example.com', lastLoginIp: '203.0.113.9', devices: [{ model: 'Pixel 9', pushToken: 'fcm:abc' }] });
  });

  it('refuses the strict route\'s answer to the owner with 502 response.forbidden_field', async () => {
    const response = await get('/v1/audit/u_alice', { sub: 'u_alice', roles: ['user'] });
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ code: 'response.forbidden_field' });
  });
});

describe('crypto.ts', () => {
  it('seals and opens an email, refuses it on another row, and moves a value sealed with the old key to the new one', async () => {
    // The previous deployment sealed with k1 alone.
    const k1 = generateFieldKey();
    const previous = await fieldKeyring({ keys: { k1 }, current: 'k1' }).seal('alice@example.com', { record: 'u_alice', column: 'users.email' });
    process.env.FIELD_KEY_1 = k1;
    process.env.FIELD_KEY_2 = generateFieldKey();
    const { sealEmail, openEmail, rotateEmail } = await import('../../docs/examples/crypto.ts');

    const sealed = await sealEmail('u_alice', 'alice@example.com');
    expect(sealed).toMatch(/^v1\.k2\./);
    expect(await openEmail('u_alice', sealed)).toBe('alice@example.com');
    expect(await openEmail('u_bob', sealed)).toBeUndefined();

    expect(await openEmail('u_alice', previous)).toBe('alice@example.com');
    const rotated = await rotateEmail('u_alice', previous);
    expect(rotated).toMatch(/^v1\.k2\./);
    expect(await openEmail('u_alice', rotated)).toBe('alice@example.com');
  });
});
