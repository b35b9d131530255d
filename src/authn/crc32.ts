/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial, reflected 0xEDB88320): a checksum that catches typos
 * and truncation in API keys. Not a MAC and not crypto: anyone can compute it, which is the point —
 * a secret scanner or a gateway can tell a real key's shape from garbage without a lookup.
 * Written here because the core runs on every runtime and `zlib.crc32` is Node's alone.
 * @module
 */

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/**
 * CRC-32 of the bytes (a string is taken as UTF-8).
 * @example
 * crc32('123456789'); // 0xcbf43926
 */
export function crc32(data: string | Uint8Array): number {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
