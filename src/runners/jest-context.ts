import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { processStateDir } from '../runtime/index.js';

/** Names the file that carries the values a jest global setup provides, across jest's worker processes. */
export const CONTEXT_ENV = 'SLIPWAY_JEST_CONTEXT';

/**
 * Writes the provided values to `context-<pid>.json` (0600, created exclusively) in this process's
 * keeper dir, which is private (0700) and removed with the keeper, even when the run is killed.
 */
export async function writeContext(values: Record<string, unknown>): Promise<string> {
  const path = join(await processStateDir(), `jest-context-${process.pid}.json`);
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(values));
  } finally {
    closeSync(fd);
  }
  return path;
}

export function removeContext(path: string): void {
  rmSync(path, { force: true });
}

/** The values from {@link writeContext}, or `undefined` outside a run with a slipway global setup. */
export function readContext(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> | undefined {
  const path = env[CONTEXT_ENV];
  if (!path) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new SlipwayError('ERR_RUNTIME', `cannot read the values slipway's jest globalSetup provided (${path}): ${(e as Error).message}`, {
      cause: e, hint: 'the global setup process ended early, or the file was removed; rerun jest',
    });
  }
}
