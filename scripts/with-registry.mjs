#!/usr/bin/env node
// Runs a command with the test registries up and SLIPWAY_TEST_REGISTRY* set, then stops them.
//   node scripts/with-registry.mjs npx jest --config test/jest/jest.config.cjs
import { spawn } from 'node:child_process';
import { startTestRegistries } from './registry.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node scripts/with-registry.mjs <command> [args...]');
  process.exit(2);
}
const r = await startTestRegistries();
const env = {
  ...process.env,
  SLIPWAY_TEST_REGISTRY: r.address,
  SLIPWAY_TEST_REGISTRY_AUTH: r.authAddress,
  SLIPWAY_TEST_REGISTRY_USER: r.credentials.username,
  SLIPWAY_TEST_REGISTRY_PASSWORD: r.credentials.password,
};
const child = spawn(cmd, args, { stdio: 'inherit', env });
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
await r.stop();
process.exit(code);
