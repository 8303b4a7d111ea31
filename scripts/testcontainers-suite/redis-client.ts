// The `redis` (node-redis) client the upstream Redis module test uses, as the few calls it makes over ioredis
// (a devDependency already): createClient({ url }), connect, set, get, destroy, and sendCommand.
import { Redis } from 'ioredis';

export function createClient(opts: { url: string }) {
  const redis = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  return {
    connect: async () => { await redis.connect(); return undefined; },
    set: (key: string, value: string) => redis.set(key, value),
    get: (key: string) => redis.get(key),
    sendCommand: (args: string[]) => redis.call(args[0]!, ...args.slice(1)),
    json: {
      set: (key: string, path: string, value: unknown) => redis.call('JSON.SET', key, path, JSON.stringify(value)),
      get: async (key: string) => JSON.parse(String(await redis.call('JSON.GET', key))),
    },
    destroy: () => redis.disconnect(),
    disconnect: () => redis.disconnect(),
    quit: () => redis.quit(),
  };
}
