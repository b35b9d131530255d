/**
 * A bounded least-recently-used map. A flood of distinct keys evicts the oldest, never grows memory.
 * @module
 */

export class Lru<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, { value: V; tick: number }>();
  /**
   * Walks the map in insertion order, oldest first, and stays where it stopped: everything before
   * it was evicted, so the next entry it yields is the oldest one left. A fresh `keys()` per
   * eviction would step over every deleted slot V8 has not compacted yet, thousands in a full cache.
   * Made at the first eviction: a live iterator keeps every table the map outgrew.
   */
  #oldest: MapIterator<K> | undefined;
  #tick = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    // Map keeps insertion order: re-inserting marks the entry as most recently used. Entries used
    // within the newest half of the map are left in place — the same eviction, far fewer moves.
    if (this.#tick - entry.tick > this.#max / 2) {
      this.#map.delete(key);
      entry.tick = ++this.#tick;
      this.#map.set(key, entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.#max <= 0) return;
    this.#map.delete(key);
    this.#map.set(key, { value, tick: ++this.#tick });
    if (this.#map.size > this.#max) this.#evictOldest();
  }

  #evictOldest(): void {
    let next = (this.#oldest ??= this.#map.keys()).next();
    // Map iterators see entries added after them, so this one only ends if the map ran empty.
    if (next.done) {
      this.#oldest = this.#map.keys();
      next = this.#oldest.next();
    }
    if (!next.done) this.#map.delete(next.value);
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
