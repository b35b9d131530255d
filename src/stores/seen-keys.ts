/**
 * Keys remembered until they expire, in this process's memory: the replay caches of the memory
 * store and of `memoryReplayCache()`.
 * @module
 */

/**
 * A bounded set of keys with expiry times. A full set refuses a new key (fails closed) rather than
 * forget one that is still valid: forgetting it would let its replay through.
 */
export class SeenKeys {
  readonly maxEntries: number;
  // Insertion order is close to expiry order (one tolerance per caller), so expired keys are in front.
  readonly #expiry = new Map<string, number>();

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#expiry.size;
  }

  /** `true` the first time `key` is offered before its expiry; `false` when seen before, or when full. */
  firstUse(key: string, expiresAt: number, now: number): boolean {
    for (const [old, expiry] of this.#expiry) {
      if (expiry > now) break;
      this.#expiry.delete(old);
    }
    const known = this.#expiry.get(key);
    if ((known !== undefined && known > now) || this.#expiry.size >= this.maxEntries) return false;
    // Re-inserted, so the key moves to the young end with its new expiry.
    this.#expiry.delete(key);
    this.#expiry.set(key, expiresAt);
    return true;
  }

  forget(key: string): void {
    this.#expiry.delete(key);
  }
}
