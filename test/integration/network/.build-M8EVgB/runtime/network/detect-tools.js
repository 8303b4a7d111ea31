import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
async function which(name, path) {
    for (const dir of path.split(delimiter)) {
        if (!dir)
            continue;
        const candidate = join(dir, name);
        try {
            await access(candidate, constants.X_OK);
            return candidate;
        }
        catch { /* not here */ }
    }
    return undefined;
}
/**
 * Looks for `slirp4netns` and `pasta` on `PATH` (plus /usr/sbin and /usr/bin, which non-login shells may lack).
 * @param path - the search path. @defaultValue `process.env.PATH`
 */
export async function detectNetworkTools(path = process.env.PATH ?? '') {
    const search = `${path}${delimiter}/usr/local/bin${delimiter}/usr/bin${delimiter}/usr/sbin${delimiter}/bin`;
    const [slirp4netns, pasta] = await Promise.all([which('slirp4netns', search), which('pasta', search)]);
    return { ...(slirp4netns ? { slirp4netns } : {}), ...(pasta ? { pasta } : {}) };
}
