// A docker-archive: file started or pulled on the engine does not name images: `docker load` tags the image with the
// archive's own RepoTags, so a hostile archive that called itself `<some image the tests use>` replaced that tag on
// the engine, and every later start of it (pull policy `missing`) ran the archive's image instead
// (runtime/engine/archive-names.ts). Natively an archive is only ever `docker-archive:<file>`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Container } from '../../../src/index.js';
import { fixtureRef, skipUnless } from '../harness/index.js';
import { engineAvailable } from './engine-harness.js';

process.env.SLIPWAY_RUNTIME = 'engine';

const docker = (...args: string[]): string => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const dir = mkdtempSync(join(tmpdir(), 'slipway-archive-names-'));
const victim = `slipway-test/victim-${randomBytes(4).toString('hex')}:1`;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  try { docker('rmi', victim); } catch { /* not made */ }
});

skipUnless(engineAvailable(), 'engine tests run in the engine pass: sudo bash scripts/test-engine.sh (or SLIPWAY_ENGINE_TESTS=1 with an engine answering)')('engine: a docker-archive does not name itself', () => {
  it('starting a docker save archive that calls itself <victim> leaves <victim> on its own image', async () => {
    docker('pull', '-q', fixtureRef('redis'));
    docker('pull', '-q', fixtureRef('busybox'));
    docker('tag', fixtureRef('redis'), victim);
    const legit = docker('image', 'inspect', '-f', '{{.Id}}', victim);
    // The attacker's archive: busybox, saved under the victim's name.
    docker('tag', fixtureRef('busybox'), victim);
    const file = join(dir, 'hostile.tar');
    docker('save', '-o', file, victim);
    docker('tag', fixtureRef('redis'), victim);
    expect(docker('image', 'inspect', '-f', '{{.Id}}', victim)).toBe(legit);

    const run = await new Container(`docker-archive:${file}`).withCommand(['echo', 'from the archive']).run();
    expect(run.stdout).toBe('from the archive\n');
    expect(docker('image', 'inspect', '-f', '{{.Id}}', victim)).toBe(legit);
  });
});
