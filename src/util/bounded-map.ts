/** @module util/bounded-map — a Map with a size cap that drops its oldest entries first. */

/**
 * A `Map` that holds at most `maxEntries`. Setting a key makes it the newest
 * (delete, then insert); when full, the oldest entry goes. Per-isolate caches
 * use it so a flood of distinct keys costs bounded memory.
 *
 * @example
 * const seen = new BoundedMap<string, number>(2);
 * seen.set("a", 1).set("b", 2).set("c", 3);
 * seen.has("a"); // false
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    super();
    if (!(Number.isInteger(maxEntries) && maxEntries > 0)) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
  }

  override set(key: K, value: V): this {
    this.delete(key);
    while (this.size >= this.maxEntries) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
