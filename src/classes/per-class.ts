/**
 * A per-class map's entry for a client class: its own entry, else `default`, else undefined.
 * Only own entries count, so a class set to `unlimited` (parsed to null) keeps it rather than
 * falling through to `default`, and a class named like an Object.prototype member finds nothing.
 *
 * @example classEntry({ default: '120/1m', 'trusted-server': null }, 'trusted-server') // null
 */
export function classEntry<T>(map: Readonly<Record<string, T>>, clientClass: string): T | undefined {
  return Object.hasOwn(map, clientClass) ? map[clientClass] : map.default
}
