/**
 * URLs the gateway sends credentials to or takes keys from: https, or plain http only on loopback
 * (tests and local development).
 * @module
 */

import { policyError } from '../errors.ts';

/** Hostnames (as `URL.hostname` spells them) that never leave the machine. */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/** Parses `text` and refuses anything but https (or http to a loopback host), naming `path` and `why`. */
export function secureUrl(text: string, path: string, why: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    policyError(path, 'is not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname))) policyError(path, why);
  return url;
}
