import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.ts';

describe('crc32', () => {
  // Published check values of CRC-32/ISO-HDLC (the zlib/PNG CRC): the catalogue's "check" for
  // "123456789", and the widely quoted value for the pangram.
  it.each([
    ['', 0x00000000],
    ['123456789', 0xcbf43926],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
    ['a', 0xe8b7be43],
  ])('CRC-32 of %j is the published %i', (text, expected) => {
    expect(crc32(text)).toBe(expected);
  });

  it('takes a string as its UTF-8 bytes', () => {
    expect(crc32('é')).toBe(crc32(new Uint8Array([0xc3, 0xa9])));
  });

  it.runIf(typeof (zlibCrc32 as unknown) === 'function')('agrees with zlib on random input', () => {
    for (let i = 0; i < 50; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(i * 7));
      expect(crc32(bytes)).toBe((zlibCrc32 as (data: Uint8Array) => number)(bytes));
    }
  });
});
