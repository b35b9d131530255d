/**
 * The headers a decision adds to a response: a small ordered list with the reading side of
 * `Headers` (`get`, `has`, iteration). Building a WHATWG `Headers` per request costs more than the
 * rest of a cached-token evaluation, and a decision only needs a list to copy onto a response.
 * @module
 */

export class HeaderList implements Iterable<[string, string]> {
  /** Names and values, alternating: one flat array, so that a copy per request is one allocation. */
  readonly #flat: string[];

  /** Names must be lowercase (the engine only uses literal lowercase names). */
  constructor(pairs: readonly (readonly [string, string])[] = []) {
    const flat: string[] = new Array(pairs.length * 2);
    for (let i = 0; i < pairs.length; i++) {
      flat[2 * i] = pairs[i]![0];
      flat[2 * i + 1] = pairs[i]![1];
    }
    this.#flat = flat;
  }

  /** A list of the same headers, to change without changing this one. */
  clone(): HeaderList {
    const copy = new HeaderList();
    copy.#flat.push(...this.#flat);
    return copy;
  }

  #find(name: string): number {
    const key = name.toLowerCase();
    for (let i = 0; i < this.#flat.length; i += 2) if (this.#flat[i] === key) return i;
    return -1;
  }

  get(name: string): string | null {
    const at = this.#find(name);
    return at < 0 ? null : this.#flat[at + 1]!;
  }

  has(name: string): boolean {
    return this.#find(name) >= 0;
  }

  set(name: string, value: string): void {
    const at = this.#find(name);
    if (at >= 0) this.#flat[at + 1] = value;
    else this.#flat.push(name.toLowerCase(), value);
  }

  /** Adds to a list-valued header (`Vary`), comma-separated, as `Headers.append` would read back. */
  append(name: string, value: string): void {
    const at = this.#find(name);
    if (at >= 0) this.#flat[at + 1] = `${this.#flat[at + 1]}, ${value}`;
    else this.#flat.push(name.toLowerCase(), value);
  }

  delete(name: string): void {
    const at = this.#find(name);
    if (at >= 0) this.#flat.splice(at, 2);
  }

  entries(): IterableIterator<[string, string]> {
    const pairs: [string, string][] = [];
    this.forEach((value, name) => pairs.push([name, value]));
    return pairs[Symbol.iterator]();
  }

  keys(): IterableIterator<string> {
    return this.#flat.filter((_, i) => i % 2 === 0)[Symbol.iterator]();
  }

  /**
   * The headers as a new plain object (with no prototype, so any name is an own key): the cheapest
   * `HeadersInit` for a Response, which `@hono/node-server` writes without building a `Headers`.
   */
  record(): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    for (let i = 0; i < this.#flat.length; i += 2) out[this.#flat[i]!] = this.#flat[i + 1]!;
    return out;
  }

  /** Names and values alternating, in a new array: the form node:http's `writeHead` takes. */
  flat(): string[] {
    return this.#flat.slice();
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (let i = 0; i < this.#flat.length; i += 2) callback(this.#flat[i + 1]!, this.#flat[i]!);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
