/**
 * vitest globalSetup for the integration project: starts the real local registries (Debian's
 * docker-registry, seeded with the fixture images) and hands their addresses to the tests through
 * `inject()` and environment variables. Fails loudly, with the fix, when the fixtures were not built.
 *
 * Set SLIPWAY_TEST_REGISTRY (and optionally SLIPWAY_TEST_REGISTRY_AUTH) to reuse registries started
 * with `node scripts/registry.mjs serve` instead.
 */
import type { TestProject } from 'vitest/node';
import { AUTH_CREDENTIALS, fixturesDir, readCatalogue, startTestRegistries } from '../../scripts/registry.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:<port>` of the open registry. */
    registry: string;
    /** `127.0.0.1:<port>` of the registry that requires basic auth. */
    registryAuth: string;
    registryCredentials: { username: string; password: string };
    /** Where the fixture OCI layouts and archives are. */
    fixturesDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = fixturesDir();
  try {
    readCatalogue(dir);
  } catch (e) {
    const banner = '='.repeat(78);
    console.error(`\n${banner}\nINTEGRATION TESTS CANNOT RUN: ${(e as Error).message}\n${banner}\n`);
    throw e;
  }

  let stop = async (): Promise<void> => {};
  let address = process.env.SLIPWAY_TEST_REGISTRY;
  let authAddress = process.env.SLIPWAY_TEST_REGISTRY_AUTH ?? '';
  let credentials = { ...AUTH_CREDENTIALS };
  if (!address) {
    const started = Date.now();
    const registries = await startTestRegistries({ dir });
    ({ address, authAddress, credentials } = registries);
    stop = registries.stop;
    if (!registries.seeded) console.warn('[global-setup] registry seed missing; pushed the fixtures now (rerun sudo bash scripts/setup-host.sh to seed)');
    console.log(`[global-setup] registries up in ${Date.now() - started} ms: open ${address}, basic-auth ${authAddress}`);
  }

  process.env.SLIPWAY_TEST_REGISTRY = address;
  process.env.SLIPWAY_TEST_REGISTRY_AUTH = authAddress;
  process.env.SLIPWAY_TEST_REGISTRY_USER = credentials.username;
  process.env.SLIPWAY_TEST_REGISTRY_PASSWORD = credentials.password;
  process.env.SLIPWAY_FIXTURES_DIR = dir;
  // A reused container (withReuse) outlives its test by design, until the reuse keeper's idle timeout: 5 s here rather
  // than 10 minutes, so a run leaves no reuse keeper behind for long.
  process.env.SLIPWAY_REUSE_IDLE_TIMEOUT ??= '5000';
  project.provide('registry', address);
  project.provide('registryAuth', authAddress);
  project.provide('registryCredentials', credentials);
  project.provide('fixturesDir', dir);

  return async () => {
    await stop();
  };
}
