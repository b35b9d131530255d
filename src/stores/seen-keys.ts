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
  // Insertion order is close to expiry order (one lifetime per caller), so expired keys are in front.
  readonly #expiry = new Map<string, number>();
  /** While full: the earliest expiry of the keys, as of the last look at all of them. */
  #fullUntil = 0;

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
    if (known !== undefined && known > now) return false;
    if (known === undefined && this.#expiry.size >= this.maxEntries && !this.#madeRoom(now)) return false;
    // Re-inserted, so the key moves to the young end with its new expiry.
    this.#expiry.delete(key);
    this.#expiry.set(key, expiresAt);
    this.#fullUntil = Math.min(this.#fullUntil, expiresAt);
    return true;
  }

  /**
   * Deletes every expired key, not only those in front: callers with different lifetimes (a DPoP
   * proof's minute, a webhook's tolerance) leave expired keys behind a live one. A full set is
   * looked through again only once its earliest key has expired, so a flood costs no full pass each.
   */
  #madeRoom(now: number): boolean {
    if (now < this.#fullUntil) return false;
    let earliest = Infinity;
    for (const [key, expiry] of this.#expiry) {
      if (expiry <= now) this.#expiry.delete(key);
      else earliest = Math.min(earliest, expiry);
    }
    this.#fullUntil = earliest;
    return this.#expiry.size < this.maxEntries;
  }

  forget(key: string): void {
    this.#expiry.delete(key);
  }
}
