import { sha256, type NativeCrypto } from './native-crypto.ts';

/** SHA-256 of a string as lowercase hex: the runtime's own hash when `native` is given, else WebCrypto's. */
export async function sha256Hex(text: string, native?: NativeCrypto): Promise<string> {
  const digest = await sha256(new TextEncoder().encode(text), native);
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
