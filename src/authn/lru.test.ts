import { describe, expect, it } from 'vitest';
import { Lru } from './lru.ts';

describe('Lru', () => {
  it('never holds more than its bound, evicting the oldest first', () => {
    const lru = new Lru<number, string>(3);
    for (let i = 0; i < 10; i++) lru.set(i, `v${i}`);
    expect(lru.size).toBe(3);
    expect([0, 6, 7].map((key) => lru.get(key))).toEqual([undefined, undefined, 'v7']);
    expect(lru.get(9)).toBe('v9');
  });

  it('keeps an entry that is read while it ages, and evicts the ones nobody reads', () => {
    const lru = new Lru<string, number>(4);
    lru.set('hot', 1);
    for (let i = 0; i < 20; i++) {
      lru.set(`cold${i}`, i);
      expect(lru.get('hot')).toBe(1);
    }
    expect(lru.size).toBe(4);
    expect(lru.get('cold0')).toBeUndefined();
  });

  it('evicts the oldest entry left after deletes, re-inserts and clear()', () => {
    const lru = new Lru<string, number>(3);
    for (const key of ['a', 'b', 'c']) lru.set(key, 1);
    lru.delete('a');
    lru.set('b', 2); // re-set: now the newest
    lru.set('d', 1);
    lru.set('e', 1); // over the bound: 'c' is the oldest left
    expect(['b', 'c', 'd', 'e'].map((key) => lru.get(key))).toEqual([2, undefined, 1, 1]);
    lru.clear();
    for (const key of ['f', 'g', 'h', 'i']) lru.set(key, 1);
    expect(lru.size).toBe(3);
    expect(['f', 'g', 'h', 'i'].map((key) => lru.get(key))).toEqual([undefined, 1, 1, 1]);
  });

  it('stores nothing with a bound of 0 (cache off)', () => {
    const lru = new Lru<string, number>(0);
    lru.set('a', 1);
    expect(lru.get('a')).toBeUndefined();
  });
});
