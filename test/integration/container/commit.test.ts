/**
 * `StartedContainer.commit()`: the container's changes (files written, files deleted: whiteouts) as a layer over its
 * image, the config Docker's commit records, and a hostile container that planted symlinks to host paths in its
 * upper dir: the commit must store the links, never the host files they name. Root and rootless, and on an engine
 * (the engine commits; its history entry is the container's Cmd, not `commit`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Container, Wait } from '../../../src/index.js';
import { pull } from '../../../src/image/index.js';
import { defaultStoreRoot, ImageStore } from '../../../src/image/store.js';
import { GenericContainer } from '../../../src/testcontainers.js';
import { engineRuntime, fixtureRef, helperBuilt, nativeOnly, skipUnless, spawnTsChild, userNamespacesAllowed } from '../harness/index.js';

const roots: string[] = [];
const engineImages: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
  if (engineImages.length) execFileSync('docker', ['rmi', '-f', ...engineImages], { stdio: 'ignore' });
});

/** The stored image config of a tagged ref (on an engine: the engine's, history oldest first as in the config). */
async function configOf(ref: string): Promise<{ config: Record<string, unknown>; history: { created_by: string; comment?: string }[]; author?: string }> {
  if (engineRuntime()) {
    engineImages.push(ref);
    const i = JSON.parse(execFileSync('docker', ['image', 'inspect', ref], { encoding: 'utf8' }))[0] as { Config: Record<string, unknown>; Author: string };
    const h = execFileSync('docker', ['history', '--no-trunc', '--format', '{{json .}}', ref], { encoding: 'utf8' }).trim().split('\n')
      .map((l) => JSON.parse(l) as { CreatedBy: string; Comment: string }).reverse();
    return { config: i.Config, author: i.Author, history: h.map((e) => ({ created_by: e.CreatedBy, ...(e.Comment ? { comment: e.Comment } : {}) })) };
  }
  const store = new ImageStore(defaultStoreRoot());
  const m = JSON.parse((await store.readBlob((await pull(ref, { policy: 'never' })).manifestDigest))!.toString()) as { config: { digest: string } };
  return JSON.parse((await store.readBlob(m.config.digest))!.toString());
}

const sleeper = (): Container => new Container(fixtureRef('busybox')).withEntrypoint(['sleep']).withCommand(['1000']).waitFor(Wait.none());

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('StartedContainer.commit', () => {
  nativeOnly('SLIPWAY_ROOTFS=copy is a root file system the keeper makes')('refuses a container whose root is a copy of the layers (no overlay): its upper dir is the whole image', async () => {
    const { info } = await spawnTsChild<{ code?: string; message?: string; hint?: string; committed?: string; wrote: number }>(
      join(import.meta.dirname, 'commit-copy-child.mts'), { SLIPWAY_ROOTFS: 'copy', COMMIT_REF: fixtureRef('busybox') });
    expect(info.wrote).toBe(0);
    expect(info.committed).toBeUndefined();
    expect(info.code).toBe('ERR_UNSUPPORTED');
    expect(info.message).toMatch(/root file system is a copy of the image's layers/);
    expect(info.hint).toMatch(/fuse-overlayfs/);
  });

  it('keeps written and deleted files and records the running config and changes', async () => {
    const tag = `slipway-test/commit:${process.pid}-files`;
    {
      await using c = await sleeper()
        .withEnv({ FROM_RUN: 'yes' }).withWorkdir('/srv').withUser('0').withLabels({ 'run.label': 'r' }).expose(8080)
        .start();
      const r = await c.exec(['sh', '-c', 'mkdir -p /srv/data && echo hello > /srv/data/greeting && rm /bin/vi && rm -rf /etc/network && chmod 640 /srv/data/greeting']);
      expect(r.exitCode).toBe(0);
      const ref = await c.commit({ tag, changes: ['ENV FROM_CHANGE=1', 'LABEL change.label=c'], author: 'me', comment: 'why' });
      expect(ref).toContain('slipway-test/commit');
    }
    await using n = await new Container(tag).withPullPolicy('never').withEntrypoint(['sleep']).withCommand(['1000']).waitFor(Wait.none()).start();
    const check = await n.exec(['sh', '-c', 'cat /srv/data/greeting; stat -c %a /srv/data/greeting; test -e /bin/vi && echo vi-present; test -e /etc/network && echo network-present; test -e /bin/ls && echo ls-present; echo "$FROM_RUN $FROM_CHANGE"; pwd']);
    expect(check.stdout.split('\n')).toEqual(['hello', '640', 'ls-present', 'yes 1', '/srv', '']);
    const cfg = await configOf(tag);
    expect(cfg.config.Entrypoint).toEqual(['sleep']);
    expect(cfg.config.Cmd).toEqual(['1000']);
    expect(cfg.config.User).toBe('0');
    expect(cfg.config.WorkingDir).toBe('/srv');
    expect(cfg.config.ExposedPorts).toHaveProperty(['8080/tcp']);
    expect(cfg.config.Labels).toMatchObject({ 'run.label': 'r', 'change.label': 'c' });
    expect(cfg.author).toBe('me');
    // The session's label would make the watchdog of this session take a later container of the image.
    if (engineRuntime()) expect(cfg.config.Labels).toMatchObject({ 'org.slipway.session': '', 'org.slipway.reuse-key': '' });
    // The engine's history entry is the container's Cmd (Docker's commit records it), natively `commit`.
    expect(cfg.history.at(-1)).toMatchObject({ created_by: engineRuntime() ? '1000' : 'commit', comment: 'why' });
  });

  it('stores a planted symlink as a link and never reads the host file it names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-commit-secret-'));
    roots.push(dir);
    const secret = join(dir, 'secret');
    await writeFile(secret, 'HOST-SECRET\n');
    const tag = `slipway-test/commit:${process.pid}-links`;
    {
      await using c = await sleeper().withUser('0').start();
      // A link to a host file, a directory replaced by a link to the host dir, and a link as a whole directory's name.
      const r = await c.exec(['sh', '-c', `ln -s ${secret} /leak && mkdir -p /d && ln -s ${dir} /d/sub && ln -s ${dir} /etc/ssl && echo ok`]);
      expect(r.stdout).toBe('ok\n');
      await c.commit({ tag });
    }
    const cfg = await configOf(tag);
    expect(cfg.history.at(-1)?.created_by).toBe(engineRuntime() ? '1000' : 'commit');
    await using n = await new Container(tag).withPullPolicy('never').withEntrypoint(['sleep']).withCommand(['1000']).withUser('0').waitFor(Wait.none()).start();
    const check = await n.exec(['sh', '-c', `readlink /leak; readlink /d/sub; readlink /etc/ssl; cat ${secret} 2>/dev/null || echo no-secret; grep -r HOST-SECRET / --exclude-dir=proc --exclude-dir=sys 2>/dev/null || echo not-found`]);
    expect(check.stdout.split('\n')).toEqual([secret, dir, dir, 'no-secret', 'not-found', '']);
  });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('testcontainers commit()', () => {
  it('returns a name GenericContainer starts, with the changes applied', async () => {
    const started = await new GenericContainer(fixtureRef('busybox')).withEntrypoint(['sleep']).withCommand(['1000']).start();
    try {
      await started.exec(['sh', '-c', 'echo content > /test-file.txt']);
      const name = await started.commit({ repo: 'slipway-test/tc-commit', tag: `${process.pid}`, changes: ['LABEL test=test', 'ENV test=test'], deleteOnExit: false });
      const kept = await configOf(name);
      expect(kept.config.Labels).toMatchObject({ test: 'test' });
      expect(kept.config.Env).toContain('test=test');
      const fresh = await new GenericContainer(name).withEntrypoint(['sleep']).withCommand(['1000']).start();
      try {
        expect((await fresh.exec(['cat', '/test-file.txt'])).output.trim()).toBe('content');
      } finally {
        await fresh.stop();
      }
    } finally {
      await started.stop();
    }
  });
});
