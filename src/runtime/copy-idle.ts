import { SlipwayError } from '../errors.js';
import type { CopiedEntry } from './runtime-container.js';

/**
 * How long a copy out of a container waits for its reader to take the next entry or chunk before it is given up.
 * An unread copy (a `copyFrom()` stream nobody reads or destroys) holds one of the keeper's 64 workers, and for an
 * exited container its root file system mounted again, which every later copy from it waits for: without a bound that
 * lasted until the container was removed. Mutable for tests only.
 */
export const copyOutLimits = { idleMs: 60_000 };

/**
 * `entries` (a container's copy out), given up once its reader took nothing for {@link copyOutLimits}`.idleMs`: the
 * source is returned (its GET cancelled, a stopped container's mount undone) and the next read throws `ERR_COPY_IDLE`.
 * The clock runs only while the reader holds a result, never while it waits for one.
 */
export function idleBounded(entries: AsyncIterable<CopiedEntry>, path: string, container: string): AsyncIterableIterator<CopiedEntry> {
  const inner = entries[Symbol.asyncIterator]();
  const ms = copyOutLimits.idleMs;
  let timer: NodeJS.Timeout | undefined;
  let idle = false;
  let finished = false;
  const idleError = (): SlipwayError => new SlipwayError('ERR_COPY_IDLE', `the copy of ${path} out of container ${container} was given up: its reader took nothing for ${ms} ms`, {
    hint: 'read a copyFrom() stream to its end, or destroy() it once you no longer need it',
  });
  const giveUp = (): void => {
    idle = finished = true;
    void Promise.resolve(inner.return?.()).catch(() => undefined);
  };
  // Unref'd: the copy's request keeps the process alive while it is pending; this only ends it.
  const arm = (): void => {
    clearTimeout(timer);
    if (!finished) timer = setTimeout(giveUp, ms).unref();
  };
  const pull = async <T>(take: () => Promise<IteratorResult<T>>, last: boolean): Promise<IteratorResult<T>> => {
    if (idle) throw idleError();
    clearTimeout(timer);
    try {
      const r = await take();
      if (r.done && last) finished = true;
      arm();
      return r;
    } catch (e) {
      finished = true;
      throw idle ? idleError() : e;
    }
  };
  const chunks = (stream: AsyncIterable<Buffer>): AsyncIterable<Buffer> => ({
    [Symbol.asyncIterator]: () => {
      const it = stream[Symbol.asyncIterator]();
      return {
        next: () => pull(() => it.next(), false),
        return: async () => (await it.return?.()) ?? { done: true, value: undefined },
      };
    },
  });
  return {
    next: async () => {
      const r = await pull(() => inner.next(), true);
      if (!r.done && r.value.contentStream) r.value.contentStream = chunks(r.value.contentStream);
      return r;
    },
    return: async () => {
      finished = true;
      clearTimeout(timer);
      await inner.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
