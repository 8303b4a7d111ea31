// Credentials a careless setup or a broken helper hands us. A FIFO as ~/.docker/config.json (or an auth.json) held
// the read, and so every pull, until a writer came (a writer loop here lets the old code's read return: it then took
// the FIFO for an empty file and said something else); /dev/zero was read until memory ran out. A credential helper
// that printed without end was held whole in memory. Now: ERR_REGISTRY_AUTH naming the file and what it is, and a
// helper past 1 MiB of output is killed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCredentialResolver, runCredentialHelper } from '../../../src/image/credentials.js';
import { SlipwayError } from '../../../src/errors.js';

let dir = '';
let writer: ChildProcess | undefined;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'slipway-cred-hostile-')); });
afterEach(() => {
  writer?.kill('SIGKILL');
  writer = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function fifo(file: string): string {
  execFileSync('mkfifo', [file]);
  writer = spawn('sh', ['-c', 'while [ -p "$0" ]; do : > "$0"; done', file], { stdio: 'ignore' });
  return file;
}

async function refused(p: Promise<unknown>): Promise<SlipwayError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(SlipwayError.is(e, 'ERR_REGISTRY_AUTH'), String(e)).toBe(true);
  return e as SlipwayError;
}

describe('credentials from hostile files and helpers', () => {
  it('a FIFO docker config.json is refused, not waited on', async () => {
    fifo(join(dir, 'config.json'));
    const resolve = createCredentialResolver({ env: { HOME: dir, DOCKER_CONFIG: dir }, authFiles: [] });
    expect((await refused(resolve('registry.example'))).message).toMatch(/config\.json: not a regular file \(a FIFO\)/);
  });

  it('an auth file that is /dev/zero or a FIFO is refused', async () => {
    expect((await refused(createCredentialResolver({ env: { HOME: dir }, dockerConfigDir: dir, authFiles: ['/dev/zero'] })('r.example'))).message)
      .toMatch(/\/dev\/zero: not a regular file \(a character device\)/);
    const auth = fifo(join(dir, 'auth.json'));
    expect((await refused(createCredentialResolver({ env: { HOME: dir }, dockerConfigDir: dir, authFiles: [auth] })('r.example'))).message)
      .toMatch(/auth\.json: not a regular file \(a FIFO\)/);
  });

  it('a credential helper that prints without end is killed past 1 MiB', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'docker-credential-flood'), '#!/bin/sh\nexec cat /dev/zero\n');
    chmodSync(join(bin, 'docker-credential-flood'), 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      expect((await refused(runCredentialHelper('flood', 'r.example'))).message).toMatch(/printed more than 1048576 bytes; stopped/);
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe('engine discovery from hostile files', () => {
  it('a FIFO ca.pem under DOCKER_CERT_PATH, or a FIFO docker config.json, is not waited on', async () => {
    const { engineCandidates, realHost } = await import('../../../src/engine/endpoint.js');
    fifo(join(dir, 'ca.pem'));
    expect(() => engineCandidates(realHost({ HOME: dir, DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir })))
      .toThrow(/ca\.pem cannot be read/);
    writer?.kill('SIGKILL');
    const docker = join(dir, 'docker');
    mkdirSync(docker);
    fifo(join(docker, 'config.json'));
    // No context is named: discovery goes on to the well-known sockets.
    expect(Array.isArray(engineCandidates(realHost({ HOME: dir, DOCKER_CONFIG: docker, XDG_RUNTIME_DIR: dir })))).toBe(true);
  });
});
