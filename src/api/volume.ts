import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { defaultStoreRoot } from '../image/store.js';
import { processStateDir, removeRuntimeVolume, removeTree, type VolumeSource } from '../runtime/index.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const registry = new Map<string, Volume>();

/**
 * A named volume: a directory that outlives one container, shared by every container of this process
 * that mounts it. It is removed when the process ends, unless created with `{ keep: true }` (then it
 * lives under the store, `~/.cache/slipway/volumes/<name>`, until `remove()`).
 * @example
 * import { Container, Volume } from 'slipway';
 * const data = Volume.named('pgdata');
 * await new Container('postgres:16').withVolume(data, '/var/lib/postgresql/data').start();
 */
export class Volume implements VolumeSource, AsyncDisposable {
  readonly name: string;
  readonly keep: boolean;
  #path: Promise<string> | undefined;

  private constructor(name: string, keep: boolean) {
    this.name = name;
    this.keep = keep;
  }

  /** The volume called `name` in this process (created on first use). */
  static named(name: string, opts: { keep?: boolean } = {}): Volume {
    if (typeof name !== 'string' || !NAME.test(name)) throw invalidArgument('volume name', name, 'letters, digits, "_", "." or "-" (at most 128)');
    const existing = registry.get(name);
    if (existing) {
      if (opts.keep !== undefined && opts.keep !== existing.keep) throw invalidArgument(`volume ${name} keep`, opts.keep, `${existing.keep}, as when the volume was first named`);
      return existing;
    }
    const v = new Volume(name, opts.keep ?? false);
    registry.set(name, v);
    return v;
  }

  /** @internal The host directory, created on first use. */
  hostPath(): Promise<string> {
    this.#path ??= (async () => {
      const dir = this.keep
        ? join(process.env.SLIPWAY_VOLUMES_DIR || join(defaultStoreRoot(), 'volumes'), this.name)
        : join(await processStateDir(), 'volumes', this.name);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      return dir;
    })();
    return this.#path;
  }

  /** Deletes the volume's content (containers using it should be removed first). Idempotent. */
  async remove(): Promise<void> {
    registry.delete(this.name);
    const path = await this.#path?.catch(() => undefined);
    this.#path = undefined;
    if (path) await removeTree(path);
    else await removeRuntimeVolume(this.name, this.keep);
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.remove(); }
}
