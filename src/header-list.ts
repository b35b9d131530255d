/**
 * The headers a decision adds to a response: a small ordered list with the reading side of
 * `Headers` (`get`, `has`, iteration). Building a WHATWG `Headers` per request costs more than the
 * rest of a cached-token evaluation, and a decision only needs a list to copy onto a response.
 * @module
 */

export class HeaderList implements Iterable<[string, string]> {
  readonly #pairs: [string, string][];

  /** Names must be lowercase (the engine only uses literal lowercase names). */
  constructor(pairs: readonly (readonly [string, string])[] = []) {
    const copy: [string, string][] = new Array(pairs.length);
    for (let i = 0; i < pairs.length; i++) copy[i] = [pairs[i]![0], pairs[i]![1]];
    this.#pairs = copy;
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    for (const [n, value] of this.#pairs) if (n === key) return value;
    return null;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /** Replaces the value of `name`. */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    const pair = this.#pairs.find(([n]) => n === key);
    if (pair) pair[1] = value;
    else this.#pairs.push([key, value]);
  }

  /** Adds to a list-valued header (`Vary`), comma-separated, as `Headers.append` would read back. */
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const pair = this.#pairs.find(([n]) => n === key);
    if (pair) pair[1] = `${pair[1]}, ${value}`;
    else this.#pairs.push([key, value]);
  }

  delete(name: string): void {
    const key = name.toLowerCase();
    const index = this.#pairs.findIndex(([n]) => n === key);
    if (index >= 0) this.#pairs.splice(index, 1);
  }

  /** A copy. */
  clone(): HeaderList {
    return new HeaderList(this.#pairs);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#pairs.map(([name, value]): [string, string] => [name, value])[Symbol.iterator]();
  }

  keys(): IterableIterator<string> {
    return this.#pairs.map(([name]) => name)[Symbol.iterator]();
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.#pairs) callback(value, name);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
