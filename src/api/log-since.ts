/**
 * The `since` of a wait that must see only lines logged from now on (after a restart, a reset, a reboot from a new
 * snapshot): the next millisecond. Log times carry milliseconds to Node (a `Date`), so a line logged in this very
 * millisecond would pass a `since: new Date()` filter; that is exactly the old process's last line, which a log wait
 * sees within a fraction of a millisecond of its write (it wakes on the file's change), right before the caller
 * restarts. A restarted process cannot log in the same millisecond as the call: the kill and the boot come first.
 */
export function sinceNextMillisecond(now = Date.now()): Date {
  return new Date(now + 1);
}
