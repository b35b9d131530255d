import { hexOf } from '../hex.ts';
import { sha256, type NativeCrypto } from './native-crypto.ts';

/** SHA-256 of a string as lowercase hex: the runtime's own hash when `native` is given, else WebCrypto's. */
export async function sha256Hex(text: string, native?: NativeCrypto): Promise<string> {
  return hexOf(await sha256(new TextEncoder().encode(text), native));
}
