import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Paths of the outbound-network helpers found on `PATH`. */
export interface NetworkTools {
  slirp4netns?: string;
  pasta?: string;
}

async function which(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * Looks for `slirp4netns` and `pasta` on `PATH` (plus /usr/sbin and /usr/bin, which non-login shells may lack).
 * @param path - the search path. @defaultValue `process.env.PATH`
 */
export async function detectNetworkTools(path = process.env.PATH ?? ''): Promise<NetworkTools> {
  const search = `${path}${delimiter}/usr/local/bin${delimiter}/usr/bin${delimiter}/usr/sbin${delimiter}/bin`;
  const [slirp4netns, pasta] = await Promise.all([which('slirp4netns', search), which('pasta', search)]);
  return { ...(slirp4netns ? { slirp4netns } : {}), ...(pasta ? { pasta } : {}) };
}

const systemTools = new Map<string, Promise<string | undefined>>();

/**
 * A util-linux tool (`unshare`, `setpriv`) from the system dirs only (/usr/bin, /bin, /usr/sbin; never `PATH`), looked
 * up once per process; `onMissing` runs once when it is absent.
 */
export function findSystemTool(name: string, onMissing: () => void): Promise<string | undefined> {
  let found = systemTools.get(name);
  if (!found) {
    found = which(name, ['/usr/bin', '/bin', '/usr/sbin'].join(delimiter)).then((p) => {
      if (!p) onMissing();
      return p;
    });
    systemTools.set(name, found);
  }
  return found;
}
