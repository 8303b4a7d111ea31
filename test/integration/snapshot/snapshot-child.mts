// Run by snapshot.test.ts in its own Node process: starts the postgres fixture with withSnapshot() (key from
// SNAP_SALT), checks a query, prints one JSON line (whether this start made the snapshot) and exits.
import pg from 'pg';
import { Container, Wait } from '../../../src/index.js';

const ref = process.env.SNAP_REF!;
const c = await new Container(ref)
  .withEnv({ POSTGRES_PASSWORD: 'pw', POSTGRES_DB: 'shop' }).expose(5432).withStartupTimeout(120_000)
  .waitFor(Wait.forLogMessage(/ready to accept connections/, 2))
  .withSnapshot({ salt: process.env.SNAP_SALT, waitStrategy: Wait.forLogMessage(/ready to accept connections/) })
  .start();
const client = new pg.Client({ connectionString: `postgres://postgres:pw@127.0.0.1:${c.getMappedPort(5432)}/shop` });
await client.connect();
const { rows } = await client.query('select current_database() as db');
await client.end();
process.stdout.write(`${JSON.stringify({ created: c.snapshot?.created, key: c.snapshot?.key, db: rows[0].db })}\n`);
await c.remove();
