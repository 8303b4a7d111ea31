import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { NginxContainer, PostgreSqlContainer, RedisContainer } from '../../../src/modules/index.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

/** Sends `data` to 127.0.0.1:port and resolves with what came back once `enough` says so. */
function tcpExchange(host: string, port: number, data: string, enough: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`no full answer from ${host}:${port}, got ${JSON.stringify(got)}`)); });
    s.on('connect', () => s.write(data));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (enough(got)) { s.destroy(); resolve(got); }
    });
    s.on('error', reject);
  });
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('service modules', () => {
  it('PostgreSqlContainer: psql with the URI pieces answers select 1 as the configured user in the configured database', async () => {
    await using pg = await new PostgreSqlContainer(fixtureRef('postgres')).withDatabase('app').withUsername('alice').withPassword('s3cret:/@').start();
    const uri = new URL(pg.getConnectionUri());
    expect(uri.protocol).toBe('postgres:');
    expect([uri.hostname, Number(uri.port), decodeURIComponent(uri.username), decodeURIComponent(uri.password), uri.pathname])
      .toEqual([pg.getHost(), pg.getPort(), 'alice', 's3cret:/@', '/app']);
    // psql inside the container, over TCP (password auth), with the pieces the URI carries.
    const q = await pg.exec(['psql', '-h', '127.0.0.1', '-p', '5432', '-U', pg.getUsername(), '-d', pg.getDatabase(), '-tAc', 'select 1, current_user, current_database()'],
      { env: { PGPASSWORD: pg.getPassword() } });
    expect(q).toMatchObject({ exitCode: 0, stdout: '1|alice|app\n' });
    const wrong = await pg.exec(['psql', '-h', '127.0.0.1', '-U', 'alice', '-d', 'app', '-tAc', 'select 1'], { env: { PGPASSWORD: 'wrong' } });
    expect(wrong.exitCode).not.toBe(0);
    // The published port reaches the real server: an SSLRequest is answered 'S' or 'N'.
    const ssl = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: pg.getHost(), port: pg.getPort() }, () => s.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
      s.once('data', (d) => { s.destroy(); resolve(d.toString('latin1', 0, 1)); });
      s.once('error', reject);
    });
    expect(['S', 'N']).toContain(ssl);
  });

  it('RedisContainer: PING over raw TCP to host:port answers PONG; with a password it demands AUTH', async () => {
    await using redis = await new RedisContainer(fixtureRef('redis')).start();
    const url = new URL(redis.getConnectionUrl());
    expect(url.protocol).toBe('redis:');
    expect(await tcpExchange(url.hostname, Number(url.port), 'PING\r\n', (t) => t.endsWith('\r\n'))).toBe('+PONG\r\n');

    await using locked = await new RedisContainer(fixtureRef('redis')).withPassword('pw').start();
    expect(locked.getConnectionUrl()).toBe(`redis://:pw@${locked.getHost()}:${locked.getPort()}`);
    expect(await tcpExchange(locked.getHost(), locked.getPort(), 'PING\r\n', (t) => t.endsWith('\r\n'))).toMatch(/^-NOAUTH/);
    expect(await tcpExchange(locked.getHost(), locked.getPort(), 'AUTH pw\r\nPING\r\n', (t) => t.split('\r\n').length >= 3)).toBe('+OK\r\n+PONG\r\n');
  });

  it('NginxContainer: the base URL serves the index page', async () => {
    await using web = await new NginxContainer(fixtureRef('nginx')).start();
    const res = await fetch(`${web.getBaseUrl()}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello from the slipway nginx fixture\n');
  });

  it('a module builder is reusable: two starts from one builder are two independent servers', async () => {
    const builder = new RedisContainer(fixtureRef('redis'));
    await using a = await builder.start();
    await using b = await builder.start();
    expect(a.getPort()).not.toBe(b.getPort());
    await tcpExchange(a.getHost(), a.getPort(), 'SET k from-a\r\n', (t) => t.endsWith('\r\n'));
    expect(await tcpExchange(b.getHost(), b.getPort(), 'GET k\r\n', (t) => t.endsWith('\r\n'))).toBe('$-1\r\n');
  });
});
