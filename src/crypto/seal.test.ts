/**
 * Field sealing: the AES-GCM primitive against the published GCM test vectors, then the sealed
 * format, tampering, moved values (wrong record or column) and key rotation.
 */
import { base64url } from 'jose';
import { describe, expect, it, test } from 'vitest';
import { PolicyError } from '../errors.ts';
import { aesGcmDecrypt, aesGcmEncrypt, associatedData, fieldKeyring, generateFieldKey, importAesKey, SealError, type SealContext } from './seal.ts';

const hex = (text: string) => new Uint8Array(text.match(/../g)?.map((byte) => parseInt(byte, 16)) ?? []);
const toHex = (bytes: Uint8Array) => [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');

/**
 * AES-256 test cases 13–16 of "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega
 * (the vectors NIST's GCM validation uses): key, IV, plaintext, AAD → ciphertext, tag.
 */
const GCM_VECTORS = [
  { name: 'test case 13 (empty plaintext)', key: '00'.repeat(32), iv: '00'.repeat(12), pt: '', aad: '', ct: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
  { name: 'test case 14 (one zero block)', key: '00'.repeat(32), iv: '00'.repeat(12), pt: '00'.repeat(16), aad: '', ct: 'cea7403d4d606b6e074ec5d3baf39d18', tag: 'd0d1c8a799996bf0265b98b5d48ab919' },
  {
    name: 'test case 15 (four blocks)',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255',
    aad: '',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad',
    tag: 'b094dac5d93471bdec1a502270e3cc6c',
  },
  {
    name: 'test case 16 (associated data)',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

describe('the AES-256-GCM primitive', () => {
  test.each(GCM_VECTORS)('$name', async ({ key, iv, pt, aad, ct, tag }) => {
    const cryptoKey = await importAesKey(hex(key));
    const sealed = await aesGcmEncrypt(cryptoKey, hex(iv), hex(pt), hex(aad));
    expect(toHex(sealed)).toBe(ct + tag);
    expect(toHex(await aesGcmDecrypt(cryptoKey, hex(iv), hex(ct + tag), hex(aad)))).toBe(pt);
  });

  it('refuses the test case 16 ciphertext under other associated data', async () => {
    const { key, iv, ct, tag } = GCM_VECTORS[3]!;
    await expect(aesGcmDecrypt(await importAesKey(hex(key)), hex(iv), hex(ct + tag), hex('feedface'))).rejects.toThrow();
  });
});

const EMAIL: SealContext = { record: 'u_alice', column: 'users.email' };
const K1 = generateFieldKey();
const K2 = generateFieldKey();

describe('fieldKeyring', () => {
  it('round-trips a value, with a fresh IV each time', async () => {
    const keyring = fieldKeyring({ keys: { k1: K1 }, current: 'k1' });
    const a = await keyring.seal('alice@example.com', EMAIL);
    const b = await keyring.seal('alice@example.com', EMAIL);
    expect(a).not.toBe(b);
    expect(await keyring.open(a, EMAIL)).toBe('alice@example.com');
    expect(await keyring.open(b, EMAIL)).toBe('alice@example.com');
    expect(await keyring.open(await keyring.seal('', EMAIL), EMAIL)).toBe('');
    expect(await keyring.open(await keyring.seal('Zoë 🙂', EMAIL), EMAIL)).toBe('Zoë 🙂');
  });

  it('writes v1.<kid>.<iv>.<ciphertext>, which the primitive opens with the documented associated data', async () => {
    const keyring = fieldKeyring({ keys: { k1: K1 }, current: 'k1' });
    const sealed = await keyring.seal('alice@example.com', EMAIL);
    const [version, kid, iv, ciphertext] = sealed.split('.');
    expect([version, kid]).toEqual(['v1', 'k1']);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    const aad = new TextEncoder().encode(JSON.stringify(['v1', 'k1', 'u_alice', 'users.email']));
    expect(associatedData('k1', EMAIL)).toEqual(aad);
    const plain = await aesGcmDecrypt(await importAesKey(base64url.decode(K1) as Uint8Array<ArrayBuffer>), base64url.decode(iv!) as Uint8Array<ArrayBuffer>, base64url.decode(ciphertext!) as Uint8Array<ArrayBuffer>, aad);
    expect(new TextDecoder().decode(plain)).toBe('alice@example.com');
  });

  test.each<[string, SealContext]>([
    ['another record', { record: 'u_bob', column: 'users.email' }],
    ['another column', { record: 'u_alice', column: 'users.name' }],
    ['a context that only concatenates the same', { record: 'u_alice","users', column: 'email' }],
  ])('refuses a value opened for %s (a copied ciphertext opens nothing)', async (_name, context) => {
    const keyring = fieldKeyring({ keys: { k1: K1 }, current: 'k1' });
    const sealed = await keyring.seal('alice@example.com', EMAIL);
    await expect(keyring.open(sealed, context)).rejects.toMatchObject({ name: 'SealError', code: 'ERR_SEAL_REJECTED' });
  });

  it('refuses every single-character change to a sealed value', async () => {
    const keyring = fieldKeyring({ keys: { k1: K1, k2: K2 }, current: 'k1' });
    const sealed = await keyring.seal('alice@example.com', EMAIL);
    for (let i = 0; i < sealed.length; i++) {
      const swapped = sealed[i] === 'A' ? 'B' : 'A';
      const changed = sealed.slice(0, i) + swapped + sealed.slice(i + 1);
      await expect(keyring.open(changed, EMAIL), `position ${i}`).rejects.toBeInstanceOf(SealError);
    }
  });

  test.each([
    ['plain text', 'alice@example.com', 'ERR_SEAL_MALFORMED'],
    ['another version', 'v2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA', 'ERR_SEAL_MALFORMED'],
    ['a short IV', 'v1.k1.AAAA.AAAAAAAAAAAAAAAAAAAAAA', 'ERR_SEAL_MALFORMED'],
    ['no tag', 'v1.k1.AAAAAAAAAAAAAAAA.AAAA', 'ERR_SEAL_MALFORMED'],
    ['padding', 'v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA==', 'ERR_SEAL_MALFORMED'],
    ['an unknown key id', 'v1.k9.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA', 'ERR_SEAL_UNKNOWN_KEY'],
  ])('refuses %s with a code', async (_name, sealed, code) => {
    const keyring = fieldKeyring({ keys: { k1: K1 }, current: 'k1' });
    await expect(keyring.open(sealed, EMAIL)).rejects.toMatchObject({ code });
  });

  it('rotates: the current key seals, every key opens, reseal moves a value to the current key', async () => {
    const before = fieldKeyring({ keys: { k1: K1 }, current: 'k1' });
    const old = await before.seal('alice@example.com', EMAIL);
    const after = fieldKeyring({ keys: { k1: K1, k2: K2 }, current: 'k2' });
    expect(after.keyId(old)).toBe('k1');
    expect(await after.open(old, EMAIL)).toBe('alice@example.com');
    expect(after.keyId(await after.seal('x', EMAIL))).toBe('k2');
    const moved = await after.reseal(old, EMAIL);
    expect(after.keyId(moved)).toBe('k2');
    expect(await after.reseal(moved, EMAIL)).toBe(moved);
    // Once k1 is retired, what it sealed no longer opens: re-seal first.
    const retired = fieldKeyring({ keys: { k2: K2 }, current: 'k2' });
    expect(await retired.open(moved, EMAIL)).toBe('alice@example.com');
    await expect(retired.open(old, EMAIL)).rejects.toMatchObject({ code: 'ERR_SEAL_UNKNOWN_KEY' });
  });

  it('refuses a value sealed under one key id but relabelled with another', async () => {
    const keyring = fieldKeyring({ keys: { k1: K1, k2: K1 }, current: 'k1' });
    const sealed = await keyring.seal('alice@example.com', EMAIL);
    await expect(keyring.open(sealed.replace('v1.k1.', 'v1.k2.'), EMAIL)).rejects.toMatchObject({ code: 'ERR_SEAL_REJECTED' });
  });

  test.each<[string, Parameters<typeof fieldKeyring>[0], string]>([
    ['a short key', { keys: { k1: 'AAAA' }, current: 'k1' }, 'fieldKeyring().keys.k1'],
    ['a key of 31 bytes', { keys: { k1: new Uint8Array(31) }, current: 'k1' }, 'fieldKeyring().keys.k1'],
    ['a key id with a dot', { keys: { 'k.1': K1 }, current: 'k.1' }, 'fieldKeyring().keys["k.1"]'],
    ['a current key that is not in keys', { keys: { k1: K1 }, current: 'k2' }, 'fieldKeyring().current'],
  ])('refuses %s, naming the option', (_name, options, path) => {
    expect(() => fieldKeyring(options)).toThrow(PolicyError);
    try {
      fieldKeyring(options);
    } catch (error) {
      expect((error as PolicyError).path).toBe(path);
    }
  });
});
