/**
 * The container names this process holds: those of its own containers and those of reused containers it leases from the
 * reuse keeper. Docker's names are global; slipway's are per process, plus the reused ones this process uses, so a
 * `withName(x)` start fails while this process already has an `x` of the other kind (testcontainers' reuse tests rely on it).
 */
import { SlipwayError } from '../errors.js';

type Holder = { kind: 'own' } | { kind: 'reused'; leases: number };
const held = new Map<string, Holder>();

function inUse(name: string, other: string): SlipwayError {
  return new SlipwayError('ERR_INVALID_ARGUMENT', `a container named ${name} is already running in this process${other}`, {
    hint: 'choose another withName() or remove the other container first',
  });
}

/** Claims `name` for a container of this process; the returned function gives it back. */
export function claimOwnName(name: string): () => void {
  const h = held.get(name);
  if (h) throw inUse(name, h.kind === 'reused' ? ' (a reused one, withReuse())' : '');
  held.set(name, { kind: 'own' });
  return () => { held.delete(name); };
}

/**
 * Claims `name` for a reused container: several leases of one reused container share it (the reuse keeper refuses two
 * configurations under one name); a container of this process's own under the name is a conflict. Returns the release.
 */
export function claimReusedName(name: string): () => void {
  const h = held.get(name);
  if (h?.kind === 'own') throw inUse(name, ' (not reused: started without withReuse())');
  if (h) h.leases++;
  else held.set(name, { kind: 'reused', leases: 1 });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const cur = held.get(name);
    if (cur?.kind === 'reused' && --cur.leases === 0) held.delete(name);
  };
}
