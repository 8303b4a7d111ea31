// Starts Postgres once for the whole vitest run and hands its URL to every test file.
// Teardown is slipway's job: after the run, after a failing setup step, and when the run is killed.
import { PostgreSqlContainer } from 'slipway';
import { defineGlobalSetup } from 'slipway/vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default defineGlobalSetup(async ({ use, provide }) => {
  const pg = await use(new PostgreSqlContainer('postgres:15').start());
  provide('databaseUrl', pg.getConnectionUri());
});
