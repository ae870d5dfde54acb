import { LRUCache } from 'lru-cache'

/** What a cache of these can be told besides its bound (ttl, clock, …). */
export type LruOptions<K extends NonNullable<unknown>, V extends NonNullable<unknown>> = Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize' | 'sizeCalculation' | 'maxEntrySize'>

const one = () => 1

/**
 * An LRU of at most `entries` entries that allocates as it fills. lru-cache's `max` allocates
 * its index arrays for every entry up front (the relay's eight caches held some 25 MB with one
 * client); a bound by `maxSize` with each entry counted 1 evicts in the same order and grows
 * with use, so a relay pays for the clients it has, not for the most it may have.
 */
export function growingLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(entries: number, options: LruOptions<K, V> = {}): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize: entries, sizeCalculation: one })
}
