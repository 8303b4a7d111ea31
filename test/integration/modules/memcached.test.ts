import memjs from 'memjs';
import { expect, it } from 'vitest';
import { MemcachedContainer } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
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

  it('slipway/testcontainers: MemcachedContainer is a GenericContainer whose with* calls stick', async () => {
    const builder = new tc.MemcachedContainer(fixtureRef('memcached'));
    expect(builder).toBeInstanceOf(tc.GenericContainer);
    builder.withCommand(['-m', '16']);
    await using cache = await builder.start();
    const client = memjs.Client.create(cache.getConnectionString(), { retries: 0, timeout: 5 });
    try {
      await client.set('k', 'v');
      expect((await client.get('k')).value?.toString()).toBe('v');
      const stats = await new Promise<Record<string, string>>((resolve, reject) => client.stats((err, _server, s) => (err ? reject(err) : resolve(s ?? {}))));
      expect(stats.limit_maxbytes).toBe(String(16 * 1024 * 1024));
    } finally {
      client.close();
    }
  });
});
