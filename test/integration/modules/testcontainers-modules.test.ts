/**
 * The modules of `slipway/testcontainers` as a migrating suite uses them: mutable GenericContainers configured by
 * statements, testcontainers' started accessors, and the modules' own work (initial data, snapshots, TLS, persistence).
 * `pg`/`ioredis` are not dependencies: PostgreSQL is reached with the host's psql where there is one (else the
 * image's, through the published port's peer inside the container), Redis over RESP on a raw socket.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PostgreSqlContainer as NativePostgreSqlContainer, Volume } from '../../../src/index.js';
import {
  GenericContainer, NginxContainer, PostgreSqlContainer, RedisContainer, SlipwayError, StartedTestContainer,
} from '../../../src/testcontainers.js';
import { fixtureRef, hasCommand, helperBuilt, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'slipway-tcmods-'));
  dirs.push(d);
  return d;
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Sends RESP commands to host:port and resolves once `replies` answers came back. */
function resp(host: string, port: number, commands: string[][], replies = commands.length): Promise<string[]> {
  const wire = commands.map((c) => `*${c.length}\r\n${c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`).join('');
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`no full answer from ${host}:${port}, got ${JSON.stringify(got)}`)); });
    s.on('connect', () => s.write(wire));
    s.on('data', (d) => {
      got += d.toString('utf8');
      // Simple and bulk string replies only (what these tests send).
      const parsed: string[] = [];
      let rest = got;
      while (rest.length > 0) {
        const nl = rest.indexOf('\r\n');
        if (nl < 0) break;
        const head = rest.slice(0, nl);
        if (head.startsWith('$')) {
          const len = Number(head.slice(1));
          if (len < 0) { parsed.push('(nil)'); rest = rest.slice(nl + 2); continue; }
          if (rest.length < nl + 2 + len + 2) break;
          parsed.push(rest.slice(nl + 2, nl + 2 + len));
          rest = rest.slice(nl + 2 + len + 2);
        } else {
          parsed.push(head);
          rest = rest.slice(nl + 2);
        }
      }
      if (parsed.length >= replies) { s.destroy(); resolve(parsed); }
    });
    s.on('error', reject);
  });
}

/** Runs SQL through `uri` with the host's psql (a real client over the published port), else null. */
function hostPsql(uri: string, sql: string): string | null {
  if (!hasCommand('psql')) return null;
  return execFileSync('psql', [uri, '-X', '-tA', '-c', sql], { encoding: 'utf8', env: { ...process.env, PGCONNECT_TIMEOUT: '5' } });
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('slipway/testcontainers modules', () => {
  it('PostgreSqlContainer configured by statements starts the database, user and password it was told (host psql over the URI)', async () => {
    const container = new PostgreSqlContainer(fixtureRef('postgres'));
    expect(container).toBeInstanceOf(GenericContainer);
    container.withDatabase('shop');
    container.withUsername('alice');
    container.withPassword('s3cret:/@');
    await using pg = await container.start();
    expect(pg).toBeInstanceOf(StartedTestContainer);
    expect([pg.getDatabase(), pg.getUsername(), pg.getPassword()]).toEqual(['shop', 'alice', 's3cret:/@']);
    const inside = await pg.exec(['psql', '-h', '127.0.0.1', '-U', 'alice', '-d', 'shop', '-tAc', 'select current_user, current_database()'], { env: { PGPASSWORD: 's3cret:/@' } });
    expect(inside).toMatchObject({ exitCode: 0, stdout: 'alice|shop\n' });
    const host = hostPsql(pg.getConnectionUri(), 'select current_user, current_database()');
    if (host !== null) expect(host).toBe('alice|shop\n');
    // restart() waits with the module's readiness again (pg_isready, not the log line twice): usable at once.
    await pg.restart();
    expect(await pg.exec(['psql', '-h', '127.0.0.1', '-U', 'alice', '-d', 'shop', '-tAc', 'select 1'], { env: { PGPASSWORD: 's3cret:/@' } }))
      .toMatchObject({ exitCode: 0, stdout: '1\n' });
  });

  it('PostgreSQL is ready when a reused data directory logs "ready to accept connections" only once', async () => {
    const data = Volume.named(`tcmods-pgdata-${process.pid}`);
    const pg = new NativePostgreSqlContainer(fixtureRef('postgres')).with((c) => c.withVolume(data, '/var/lib/postgresql/data').withStartupTimeout(40_000));
    {
      await using first = await pg.start();
      await first.exec(['psql', '-U', 'test', '-d', 'test', '-c', 'create table kept (v text); insert into kept values (\'from the first run\')']);
    }
    // The second server finds the cluster: no init server, one ready line. The old wait (the line twice) timed out here.
    await using second = await pg.start();
    const logs: string[] = [];
    for await (const l of second.logs()) logs.push(l);
    expect(logs.filter((l) => l.includes('ready to accept connections'))).toHaveLength(1);
    expect(await second.exec(['psql', '-U', 'test', '-d', 'test', '-tAc', 'select v from kept'])).toMatchObject({ stdout: 'from the first run\n' });
  });

  it('PostgreSQL with a failing health check of the user\'s does not start (as testcontainers\' "should allow custom healthcheck")', async () => {
    // retries 1, not upstream's 0: slipway's health wait reads 0 as "until the startup timeout", Docker as its default 3.
    const container = new PostgreSqlContainer(fixtureRef('postgres')).withHealthCheck({ test: ['CMD-SHELL', 'exit 1'], interval: 100, retries: 1 });
    await expect(container.start()).rejects.toThrow(/unhealthy/);
  });

  it('PostgreSQL snapshot() and restoreSnapshot() (template databases), with a custom name too', async () => {
    await using pg = await new PostgreSqlContainer(fixtureRef('postgres')).start();
    const sql = async (q: string) => {
      const r = await pg.exec(['psql', '-U', 'test', '-d', 'test', '-v', 'ON_ERROR_STOP=1', '-tAc', q]);
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout;
    };
    await sql("create table t (name text); insert into t values ('initial')");
    await pg.snapshot();
    await sql("insert into t values ('after snapshot')");
    await pg.restoreSnapshot();
    expect(await sql('select name from t')).toBe('initial\n');
    await pg.withSnapshotName('my_custom_snapshot').snapshot();
    await sql('delete from t');
    await pg.restoreSnapshot();
    expect(await sql('select name from t')).toBe('initial\n');
    await expect(pg.snapshot('test')).rejects.toThrow('Snapshot name cannot be the same as the database name');
  });

  it('PostgreSQL withSSLCert serves TLS with the given certificate', async (ctx) => {
    if (!hasCommand('openssl')) ctx.skip();
    const d = tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-keyout', join(d, 'server.key'), '-out', join(d, 'server.crt')], { stdio: 'ignore' });
    await using pg = await new PostgreSqlContainer(fixtureRef('postgres'))
      .withSSLCert(join(d, 'server.crt'), join(d, 'server.crt'), join(d, 'server.key')).start();
    const r = await pg.exec(['psql', 'host=127.0.0.1 user=test dbname=test sslmode=require', '-tAc', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'],
      { env: { PGPASSWORD: 'test' } });
    expect(r).toMatchObject({ exitCode: 0, stdout: 't\n' });
    const host = hostPsql(`${pg.getConnectionUri()}?sslmode=require`, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    if (host !== null) expect(host).toBe('t\n');
  });

  it('RedisContainer: statement-style password, initial data imported once, executeCliCmd', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'init.redis'), 'SET "user:002" \'{"first_name":"David"}\'\nINCR import-count\n');
    const container = new RedisContainer(fixtureRef('redis'));
    container.withPassword('pw');
    container.withInitialData(join(d, 'init.redis'));
    await using redis = await container.start();
    expect(redis.getConnectionUrl()).toBe(`redis://:pw@${redis.getHost()}:${redis.getPort()}`);
    expect(await resp(redis.getHost(), redis.getPort(), [['GET', 'k']])).toEqual(['-NOAUTH Authentication required.']);
    expect(await resp(redis.getHost(), redis.getPort(), [['AUTH', 'pw'], ['GET', 'user:002'], ['GET', 'import-count']]))
      .toEqual(['+OK', '{"first_name":"David"}', '1']);
    expect(await redis.executeCliCmd('info', ['clients'])).toContain('connected_clients:1');
    await expect(redis.executeCliCmd('nosuchcommand')).resolves.toContain('ERR');
  });

  it('RedisContainer: failed initial data removes the container (its name is free again) and says why', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'bad.redis'), 'SET a 1\nNOSUCHCOMMAND x\n');
    const name = `tcmods-bad-init-${process.pid}`;
    const failed = await new RedisContainer(fixtureRef('redis')).withName(name).withInitialData(join(d, 'bad.redis')).start().catch((e: unknown) => e);
    expect(SlipwayError.is(failed, 'ERR_COMMAND_FAILED')).toBe(true);
    expect(String((failed as Error).message)).toContain('Could not import initial data');
    await using again = await new RedisContainer(fixtureRef('redis')).withName(name).start();
    expect(again.getName()).toContain(name);
  });

  it('RedisContainer withPersistence keeps data across a restart in a host directory the test user can remove', async () => {
    const dir = tempDir();
    const container = new RedisContainer(fixtureRef('redis'));
    container.withCommand(['redis-server', '--loglevel', 'verbose']);
    container.withPersistence(dir);
    await using redis = await container.start();
    // testcontainers' flags ('--save 1 1 ', '--appendonly yes': name and value in one argument) reach the server.
    expect((await redis.executeCliCmd('config', ['get', 'appendonly'])).split('\n')).toEqual(['appendonly', 'yes', '']);
    expect((await redis.executeCliCmd('config', ['get', 'save'])).split('\n')).toEqual(['save', '1 1', '']);
    expect(await resp(redis.getHost(), redis.getPort(), [['SET', 'key', 'val']])).toEqual(['+OK']);
    await redis.restart();
    expect(await resp(redis.getHost(), redis.getPort(), [['GET', 'key']])).toEqual(['val']);
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    await redis.stop();
    rmSync(dir, { recursive: true });
  });

  it('RedisContainer on a redis-stack image: password and persistence flags go to REDIS_ARGS after yours (as testcontainers)', async () => {
    const dir = tempDir();
    // The fixture's stand-in for redis/redis-stack-server (its /entrypoint.sh and REDIS_ARGS, without the modules).
    const container = new RedisContainer(`${registry()}/redis/redis-stack-server:7.4.0-v4`);
    container.withEnvironment({ REDIS_ARGS: '--loglevel verbose' });
    container.withPassword('stack-pw');
    container.withPersistence(dir);
    await using redis = await container.start();
    expect((container as unknown as { createOpts: { Env?: string[] } }).createOpts.Env)
      .toEqual(['REDIS_ARGS=--loglevel verbose --requirepass stack-pw --save 1 1  --appendonly yes']);
    expect(await resp(redis.getHost(), redis.getPort(), [['GET', 'k']])).toEqual([expect.stringMatching(/^-NOAUTH/)]);
    const config = await redis.executeCliCmd('config', ['get', '*']);
    const get = (name: string) => { const l = config.split('\n'); return l[l.indexOf(name) + 1]; };
    expect([get('loglevel'), get('appendonly'), get('save'), get('dir')]).toEqual(['verbose', 'yes', '1 1', '/data']);
    expect(await resp(redis.getHost(), redis.getPort(), [['AUTH', 'stack-pw'], ['SET', 'k', 'v']])).toEqual(['+OK', '+OK']);
    await redis.stop();
    expect(readdirSync(dir).length).toBeGreaterThan(0);
    rmSync(dir, { recursive: true });
  });

  it('NginxContainer serves content copied by statement', async () => {
    const web = new NginxContainer(fixtureRef('nginx'));
    web.withCopyContentToContainer([{ content: 'statement-style\n', target: '/var/www/html/index.html' }]);
    await using started = await web.start();
    const res = await fetch(`${started.getBaseUrl()}/`);
    expect(await res.text()).toBe('statement-style\n');
  });
});
