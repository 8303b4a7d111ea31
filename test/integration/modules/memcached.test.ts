import memjs from 'memjs';
import { expect, it } from 'vitest';
import { MemcachedContainer } from '../../../src/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('Memcached module', () => {
  it('memjs sets, reads and deletes a value through the connection string; a second server does not share it', async () => {
    await using cache = await new MemcachedContainer(fixtureRef('memcached')).start();
    expect(cache.getConnectionString()).toBe(`${cache.getHost()}:${cache.getPort()}`);
    const client = memjs.Client.create(cache.getConnectionString(), { retries: 0, timeout: 5 });
    try {
      expect(await client.set('greeting', 'hello from memjs', { expires: 60 })).toBe(true);
      expect((await client.get('greeting')).value?.toString()).toBe('hello from memjs');
      expect(await client.delete('greeting')).toBe(true);
      expect((await client.get('greeting')).value).toBeNull();
      await client.set('shared?', 'no');
    } finally {
      client.close();
    }

    await using other = await new MemcachedContainer(fixtureRef('memcached')).start();
    const second = memjs.Client.create(other.getConnectionString(), { retries: 0, timeout: 5 });
    try {
      expect((await second.get('shared?')).value).toBeNull();
    } finally {
      second.close();
    }
  });

  it('runs as the image user memcache and takes flags as the command, like the official image', async () => {
    await using cache = await new MemcachedContainer(fixtureRef('memcached')).with((c) => c.withCommand(['-m', '8', '-vv'])).start();
    const ps = await cache.exec(['sh', '-c', 'id -un; tr "\\0" " " </proc/1/cmdline; echo; for p in /proc/[0-9]*; do tr "\\0" " " <$p/cmdline; echo; done']);
    expect(ps.stdout.split('\n')[0]).toBe('memcache');
    expect(ps.stdout).toMatch(/memcached -m 8 -vv/);
  });
});
