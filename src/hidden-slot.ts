/**
 * A value kept on an object under a symbol, where a `WeakMap` keyed by that object would be the
 * textbook choice. On Node's hot paths a WeakMap entry per request or per new token kept its value
 * alive through V8's young-generation collections: the gateway promoted kilobytes per forwarded
 * request to the old generation and paid for it in scavenges and full GCs (`--trace-gc`).
 * @module
 */

/** One named slot: readable on any object, written only on one that can still take a property. */
export interface HiddenSlot<V> {
  get(target: object): V | undefined;
  /** Not enumerable: spreads, `Object.keys` and JSON of `target` never see it. A frozen target keeps none. */
  set(target: object, value: V | undefined): void;
}

export function hiddenSlot<V>(description: string): HiddenSlot<V> {
  const key = Symbol(description);
  return {
    get: (target) => (target as { [key]?: V })[key],
    set(target, value) {
      if (Object.isExtensible(target)) Object.defineProperty(target, key, { value, writable: true, configurable: true });
    },
  };
}
