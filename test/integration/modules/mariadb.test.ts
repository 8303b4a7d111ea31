import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { expect, it } from 'vitest';
import { MariaDbContainer, MySqlContainer, SlipwayError } from '../../../src/index.js';
import * as tc from '../../../src/testcontainers.js';
import { fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'modules need the built helper and user namespaces')('MariaDB and MySQL modules', () => {
  it('MariaDbContainer: mysql2 connects with the URI as the configured user, into the configured database, and round-trips a row', async () => {
    await using db = await new MariaDbContainer(fixtureRef('mariadb')).withDatabase('shop').withUsername('alice').withUserPassword("s3cret:/@'").withRootPassword('r00t').start();
    const uri = new URL(db.getConnectionUri());
    expect([uri.protocol, uri.hostname, Number(uri.port), decodeURIComponent(uri.username), decodeURIComponent(uri.password), uri.pathname])
      .toEqual(['mariadb:', db.getHost(), db.getPort(), 'alice', "s3cret:/@'", '/shop']);

    const conn = await createConnection(db.getConnectionUri());
    try {
      const [who] = await conn.query<RowDataPacket[]>('SELECT current_user() AS u, database() AS d');
      expect(who[0]).toEqual({ u: 'alice@%', d: 'shop' });
      await conn.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))');
      await conn.execute('INSERT INTO items VALUES (?, ?)', [1, 'spanner']);
      const [rows] = await conn.execute<RowDataPacket[]>('SELECT name FROM items WHERE id = ?', [1]);
      expect(rows).toEqual([{ name: 'spanner' }]);
      // The user owns its database only.
      await expect(conn.query('CREATE DATABASE other')).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
    } finally {
      await conn.end();
    }

    const root = await createConnection(db.getConnectionUri(true));
    try {
      const [r] = await root.query<RowDataPacket[]>('SELECT current_user() AS u');
      expect(r[0]).toEqual({ u: 'root@%' });
      await root.query('CREATE DATABASE other');
    } finally {
      await root.end();
    }
    await expect(createConnection({ host: db.getHost(), port: db.getPort(), user: 'alice', password: 'wrong' }))
      .rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });

    expect(await db.executeQuery('SELECT name FROM items', ['--skip-column-names'])).toBe('spanner\n');
    const failed = await db.executeQuery('SELECT nope FROM items').catch((e: unknown) => e);
    expect(SlipwayError.is(failed, 'ERR_COMMAND_FAILED')).toBe(true);
    expect((failed as Error).message).toContain("Unknown column 'nope'");
  });

  it('MySqlContainer over the same image: mysql:// URI, MYSQL_* variables, and /docker-entrypoint-initdb.d scripts run in the database before the port opens', async () => {
    const init = 'CREATE TABLE seeded (v VARCHAR(10));\nINSERT INTO seeded VALUES (\'from-init\');\n';
    await using db = await new MySqlContainer(fixtureRef('mariadb'))
      .with((c) => c.withFile('/docker-entrypoint-initdb.d/01-seed.sql', init)
        .withFile('/docker-entrypoint-initdb.d/02-more.sh', 'mysql -uroot "$MYSQL_DATABASE" -e "INSERT INTO seeded VALUES (\'from-sh\')"\n'))
      .start();
    expect(db.getConnectionUri()).toBe(`mysql://test:test@${db.getHost()}:${db.getPort()}/test`);
    const conn = await createConnection(db.getConnectionUri());
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT v FROM seeded ORDER BY v');
      expect(rows.map((r) => r.v)).toEqual(['from-init', 'from-sh']);
    } finally {
      await conn.end();
    }
  });

  it('username root: no second account, root uses the user password', async () => {
    await using db = await new MariaDbContainer(fixtureRef('mariadb')).withUsername('root').withUserPassword('pw').start();
    expect(db.getRootPassword()).toBe('pw');
    const conn = await createConnection(db.getConnectionUri());
    try {
      const [r] = await conn.query<RowDataPacket[]>("SELECT count(*) AS n FROM mysql.user WHERE user NOT IN ('root', 'mariadb.sys')");
      expect(r[0]).toEqual({ n: 0 });
    } finally {
      await conn.end();
    }
  });

  it('slipway/testcontainers: statement-style MySqlContainer configuration is kept (database, user, passwords), and executeQuery runs as root', async () => {
    const builder = new tc.MySqlContainer(fixtureRef('mariadb'));
    builder.withDatabase('shop');
    builder.withUsername('bob');
    builder.withUserPassword('pw');
    builder.withRootPassword('rootpw');
    await using db = await builder.start();
    expect(db).toBeInstanceOf(tc.StartedTestContainer);
    expect(db.getConnectionUri()).toBe(`mysql://bob:pw@${db.getHost()}:${db.getPort()}/shop`);
    expect(db.getConnectionUri(true)).toBe(`mysql://root:rootpw@${db.getHost()}:${db.getPort()}/shop`);
    const conn = await createConnection(db.getConnectionUri());
    try {
      const [r] = await conn.query<RowDataPacket[]>('SELECT current_user() AS u, database() AS d');
      expect(r[0]).toEqual({ u: 'bob@%', d: 'shop' });
    } finally {
      await conn.end();
    }
    expect(await db.executeQuery('SELECT current_user()', ['--skip-column-names'], true)).toBe('root@%\n');

    // testcontainers' "should work with restarted container": the server comes back (no second initialisation) with its data.
    await db.executeQuery('CREATE TABLE kept (v INT); INSERT INTO kept VALUES (7)');
    await db.restart();
    const again = await createConnection(db.getConnectionUri());
    try {
      const [r] = await again.query<RowDataPacket[]>('SELECT v FROM kept');
      expect(r).toEqual([{ v: 7 }]);
    } finally {
      await again.end();
    }
  });
});
