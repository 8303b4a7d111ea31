// The Postgres of global-setup.ts, reached with `pg` through the URL vitest's inject() hands over.
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

const client = new pg.Client({ connectionString: inject('databaseUrl') });
beforeAll(() => client.connect());
afterAll(() => client.end());

test('a table round trip', async () => {
  await client.query('CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)');
  await client.query('INSERT INTO users (name) VALUES ($1), ($2)', ['ada', 'grace']);
  const { rows } = await client.query<{ name: string }>('SELECT name FROM users ORDER BY id');
  expect(rows.map((r) => r.name)).toEqual(['ada', 'grace']);
});
