import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One Postgres for the whole run, started before any test file (see global-setup.ts).
    globalSetup: ['./global-setup.ts'],
    hookTimeout: 120_000,
  },
});
