// Run by reuse.test.ts in its own Node process (via vite-node): starts (or gets back) a redis kept for reuse across
// runs, writes/reads a key through its published port with ioredis, prints what it got as one JSON line, then either
// exits (REUSE_HOLD unset) or holds the container until killed.
import { Redis } from 'ioredis';
import { Container } from '../../../src/index.js';

process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
let builder = new Container(process.env.REUSE_REF!).expose(6379).withEnv({ REUSE_TEST: process.env.REUSE_SALT ?? '' }).withReuse();
// As root, a memory limit gives it cgroups, which must go with it.
if (process.env.REUSE_LIMIT === '1') builder = builder.withMemory('256m');
const c = await builder.start();
const port = c.getMappedPort(6379);
const redis = new Redis({ host: c.host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();
const before = await redis.get('slipway-reuse');
await redis.set('slipway-reuse', process.env.REUSE_WRITE ?? 'written');
await redis.quit();
process.stdout.write(`${JSON.stringify({ id: c.id, name: c.name, port, reused: c.reused, before, pid: process.pid, initPid: c.pid })}\n`);
if (process.env.REUSE_HOLD === '1') setInterval(() => {}, 1000);
