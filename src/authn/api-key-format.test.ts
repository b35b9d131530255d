import { describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, checkApiKeyChecksum, formatApiKey } from './api-key-format.ts';
import { crc32 } from './crc32.ts';

const ZEROS = new Uint8Array(32);
const ONES = new Uint8Array(32).fill(0xff);

describe('the API key format', () => {
  it('spells 32 bytes as 43 base62 digits, zero-padded, and the CRC-32 of the rest as 6', () => {
    expect(formatApiKey('pk_live', ZEROS)).toMatch(/^pk_live_0{43}_[0-9A-Za-z]{6}$/);
    // 2^256 - 1 in base62 uses all 43 digits.
    expect(formatApiKey('pk_live', ONES).split('_')[2]).toMatch(/^[1-9A-Za-z][0-9A-Za-z]{42}$/);
  });

  it('checksums "<prefix>_<random>" with CRC-32, in base62', () => {
    const key = formatApiKey('sk', ZEROS);
    const body = key.slice(0, -7);
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let value = crc32(body);
    let expected = '';
    for (let i = 0; i < 6; i++, value = Math.floor(value / 62)) expected = digits[value % 62] + expected;
    expect(key.slice(-6)).toBe(expected);
  });

  it('tells valid, invalid and absent checksums apart', () => {
    const key = formatApiKey('pk_live');
    expect(checkApiKeyChecksum(key)).toBe('valid');
    expect(checkApiKeyChecksum(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`)).toBe('invalid');
    expect(checkApiKeyChecksum(key.replace('pk_live', 'pk_test'))).toBe('invalid');
    expect(checkApiKeyChecksum('pk_live_4f9d2c7a1b8e6f3d0a5c9e2b7d4f1a8c')).toBe('none');
    expect(checkApiKeyChecksum(`${key}x`)).toBe('none');
  });

  it('is what API_KEY_PATTERN finds in text, and only that', () => {
    const key = formatApiKey('acme_prod');
    expect(`export TOKEN=${key}\n`.match(API_KEY_PATTERN)?.[0]).toBe(key);
    expect(API_KEY_PATTERN.test('pk_live_4f9d2c7a1b8e6f3d0a5c9e2b7d4f1a8c')).toBe(false);
    expect(API_KEY_PATTERN.test(`${key}0`)).toBe(false);
  });
});
