/**
 * Migration check: a typical testcontainers-node test file, as a team writes it against Docker, with ONLY the import
 * changed to slipway. Everything below the imports reads as testcontainers' docs write it: Docker Hub names,
 * statement-style module configuration, `await using`-free setup/teardown in hooks, Network, aliases, Wait.*.
 * Images come from the test registry through the hub prefix, as a team behind a pull-through cache would set it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Redis } from 'ioredis';
import { registry, helperBuilt, userNamespacesAllowed } from '../harness/index.js';
// --- the one changed line (was: from 'testcontainers' and from '@testcontainers/postgresql' / '@testcontainers/redis')
import {
  GenericContainer, Network, PostgreSqlContainer, RedisContainer, Wait,
  type StartedNetwork, type StartedPostgreSqlContainer, type StartedRedisContainer, type StartedTestContainer,
} from '../../../src/testcontainers.js';

const run = helperBuilt() && userNamespacesAllowed();
const prefix = process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX;

describe.skipIf(!run)('a testcontainers suite with only the import changed', () => {
  let network: StartedNetwork;
  let postgres: StartedPostgreSqlContainer;
  let redis: StartedRedisContainer;
  let web: StartedTestContainer;

  beforeAll(async () => {
    process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = `${registry()}/`;
    network = await new Network().start();
    const pgBuilder = new PostgreSqlContainer('postgres:15');
    pgBuilder.withDatabase('shop').withUsername('shopper').withPassword('secret');
    pgBuilder.withNetwork(network).withNetworkAliases('db');
    [postgres, redis, web] = await Promise.all([
      pgBuilder.start(),
      new RedisContainer('redis:7').withNetwork(network).withNetworkAliases('cache').start(),
      new GenericContainer('nginx:1')
        .withExposedPorts(80)
        .withNetwork(network)
        .withWaitStrategy(Wait.forHttp('/', 80).forStatusCode(200))
        .withStartupTimeout(60_000)
        .start(),
    ]);
  }, 300_000);

  afterAll(async () => {
    await Promise.all([postgres?.stop(), redis?.stop(), web?.stop()]);
    await network?.stop();
    if (prefix === undefined) delete process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX;
    else process.env.SLIPWAY_HUB_IMAGE_NAME_PREFIX = prefix;
  });

  it('connects to Postgres with pg through getConnectionUri()', async () => {
    const client = new pg.Client({ connectionString: postgres.getConnectionUri() });
    await client.connect();
    const { rows } = await client.query('select current_database() as db, current_user as who');
    await client.end();
    expect(rows[0]).toEqual({ db: 'shop', who: 'shopper' });
    expect(postgres.getDatabase()).toBe('shop');
  });

  it('talks to Redis with ioredis through getConnectionUrl()', async () => {
    const client = new Redis(redis.getConnectionUrl());
    await client.set('key', 'val');
    expect(await client.get('key')).toBe('val');
    client.disconnect();
  });

  it('serves HTTP on getHost():getMappedPort(80)', async () => {
    const res = await fetch(`http://${web.getHost()}:${web.getMappedPort(80)}/`);
    expect(res.status).toBe(200);
  });

  it('resolves the network aliases from another container and exec returns output and exitCode', async () => {
    const { output, exitCode } = await web.exec(['sh', '-c', 'getent hosts db cache || cat /etc/hosts']);
    expect(exitCode).toBe(0);
    expect(output).toMatch(/\bdb\b/);
    expect(output).toMatch(/\bcache\b/);
  });

  it('runs a one-off container to completion and reads its logs', async () => {
    const container = await new GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'echo migrated; sleep 60'])
      .withWaitStrategy(Wait.forLogMessage('migrated'))
      .start();
    const stream = await container.logs();
    const first = await new Promise<string>((resolve) => stream.once('data', (d: Buffer | string) => resolve(String(d))));
    expect(first).toContain('migrated');
    stream.destroy();
    await container.stop();
  });
});
