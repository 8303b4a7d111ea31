/**
 * Awaits `main` while `beside` (work started alongside it, or undefined) runs, and returns only once both have
 * settled, so no side work is left running when the caller's next step fails and its cleanup begins. `main`'s failure
 * wins; `beside`'s is thrown when `main` succeeded. Call it in the tick both promises were made: it handles `beside`'s
 * rejection from then on.
 */
export async function awaitBeside<T>(main: Promise<T>, beside: Promise<unknown> | undefined): Promise<T> {
  const [m, b] = await Promise.allSettled([main, beside]);
  if (m.status === 'rejected') throw m.reason;
  if (b.status === 'rejected') throw b.reason;
  return m.value;
}
