/** Bits every file the relay creates keeps closed, whatever the umask it was started with: write for the group, anything for others. */
export const CLOSED_BITS = 0o027

/**
 * Tightens the process umask once at start, so the quarantine (customer mail), the alert
 * outbox and every other file the relay writes are never readable by other users, even when
 * started from a shell or a unit with umask 022. A stricter umask (077) is kept as it is.
 */
export function restrictUmask(): void {
  process.umask(process.umask() | CLOSED_BITS)
}
