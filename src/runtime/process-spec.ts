import { SlipwayError } from '../errors.js';

/** The parts of an image config that decide the process, named as in the OCI image config. */
export interface ImageProcessConfig {
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

/** What the user asked to change. */
export interface ProcessOverrides {
  command?: readonly string[];
  entrypoint?: readonly string[];
  env?: Readonly<Record<string, string>>;
  workdir?: string;
  user?: string;
}

export interface ProcessSpec {
  argv: string[];
  env: string[];
  cwd: string;
  /** The user string to resolve in the container (`name`, `uid:gid`…), `root` when unset. */
  user: string;
}

/** Docker's PATH when the image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Computes argv, env and cwd exactly as `docker run` does: `withEntrypoint` replaces the image's
 * Entrypoint and clears its Cmd; `withCommand` replaces Cmd; user env overrides image env by key.
 */
export function buildProcessSpec(image: ImageProcessConfig, o: ProcessOverrides, extraEnv: Record<string, string> = {}): ProcessSpec {
  const entrypoint = o.entrypoint ? [...o.entrypoint] : [...(image.Entrypoint ?? [])];
  const cmd = o.command ? [...o.command] : o.entrypoint ? [] : [...(image.Cmd ?? [])];
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) {
    throw new SlipwayError('ERR_CONTAINER_START', 'no command specified: the image has no Entrypoint or Cmd', {
      hint: 'set one with withCommand([...]) or withEntrypoint([...])',
    });
  }
  const env = new Map<string, string>();
  for (const kv of image.Env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  for (const [k, v] of Object.entries(extraEnv)) if (!env.has(k)) env.set(k, v);
  for (const [k, v] of Object.entries(o.env ?? {})) env.set(k, v);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  const cwd = o.workdir || image.WorkingDir || '/';
  if (!cwd.startsWith('/')) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `working directory ${JSON.stringify(cwd)} is not absolute`, { hint: 'use an absolute path such as /srv' });
  }
  return { argv, env: [...env].map(([k, v]) => `${k}=${v}`), cwd, user: o.user || image.User || 'root' };
}
