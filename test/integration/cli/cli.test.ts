/**
 * The `slipway` command end to end (the built bin, or the TypeScript entry through vite-node: ./harness.ts),
 * against the local test registry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineRuntime, fixtureRef, helperBuilt, nativeOnly, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli, until } from './harness.js';

const store = mkdtempSync(join(tmpdir(), 'slipway-cli-store-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

skipUnless(helperBuilt() && userNamespacesAllowed(), 'slipway run needs the built helper (npm run build:native) and user namespaces')('slipway CLI', () => {
  it('run --rm prints the output and exits with the container\'s code', async () => {
    const r = await cli(['run', '--rm', fixtureRef('busybox'), 'sh', '-c', 'echo hi; echo oops >&2; exit 3']).done;
    expect(r).toMatchObject({ code: 3, stdout: 'hi\n' });
    expect(r.stderr).toContain('oops\n');
  });

  it('exits with 128+signal when a signal ended the process', async () => {
    const r = await cli(['run', fixtureRef('busybox'), 'sh', '-c', 'kill -KILL $$']).done;
    expect(r.code).toBe(137);
  });

  it('passes -e, --workdir and --user through', async () => {
    const r = await cli(['run', '-e', 'GREETING=hello there', '-w', '/tmp/wd', '-u', '1234:5678', fixtureRef('busybox'), 'sh', '-c', 'echo "$GREETING|$(pwd)|$(id -u):$(id -g)"']).done;
    expect(r).toMatchObject({ code: 0, stdout: 'hello there|/tmp/wd|1234:5678\n' });
  });

  it('run -p prints the published port, serves through it, and SIGINT stops the container with exit 130', async () => {
    // A stop timeout far above any load's delay: an exit well before it was not a wait for the SIGKILL.
    const run = cli(['run', '--stop-timeout', '120', '-p', '8080', fixtureRef('busybox'), 'httpd', '-f', '-p', '8080', '-h', '/etc']);
    const port = await until('the published port line', () => {
      const m = /^8080\/tcp -> 127\.0\.0\.1:(\d+)$/m.exec(run.out.stderr);
      return m ? Number(m[1]) : undefined;
    });
    const body = await until('httpd to answer', () => fetch(`http://127.0.0.1:${port}/hostname`).then((r) => (r.ok ? r.text() : undefined), () => undefined));
    expect(body.trim()).toMatch(/^[0-9a-f]{12}$/);
    const t0 = Date.now();
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(60_000); // httpd dies on SIGTERM: no wait for the SIGKILL (120 s)
    expect(r.stderr).toMatch(/stopping slipway-/);
    await expect(fetch(`http://127.0.0.1:${port}/hostname`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('bad input is one line naming the problem and the fix, exit 2', async () => {
    const r = await cli(['run', '--network', 'bridge', fixtureRef('busybox')]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('slipway: invalid --network "bridge"; fix: use --network isolated (default), none or host\n');
  });

  it('a slipway error prints its code and hint; run exits 125', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'slipway-cli-empty-'));
    try {
      // A tag never pulled: the engine's image store is shared by the whole pass (no empty store to point it at).
      const ref = fixtureRef('busybox').replace(/:latest$/, ':never-pulled');
      const r = await cli(['run', '--pull', 'never', ref, 'true'], { SLIPWAY_CACHE_DIR: empty }).done;
      expect(r.code).toBe(125);
      const where = engineRuntime() ? 'the engine\'s images' : 'the store';
      expect(r.stderr).toMatch(new RegExp(`^slipway: ERR_IMAGE_NOT_PRESENT: .*never-pulled.* is not in ${where} .*; fix: pull it first`));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('slipway pull / images / prune (non-TTY)', () => {
  it('pull prints plain progress lines on stderr and only the digest on stdout', async () => {
    const env = { SLIPWAY_CACHE_DIR: store };
    const r = await cli(['pull', fixtureRef('busybox')], env).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(r.stderr).not.toContain('\r');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`pulling ${fixtureRef('busybox')}`);
    expect(lines.slice(1, -1).every((l) => /^[0-9a-f]{12}: [\d.]+ [kMG]?B done$/.test(l))).toBe(true);
    // A layer the engine already holds (the pass shares its store) is named without a size in its stream: no line.
    if (!engineRuntime()) expect(lines.length).toBeGreaterThan(2);
    expect(lines.at(-1)).toMatch(/\(linux\/amd64\): \d+ layers?, from registry$/);

    const again = await cli(['pull', '--policy', 'missing', fixtureRef('busybox')], env).done;
    expect(again.stdout).toBe(r.stdout);
    expect(again.stderr).toMatch(/already in the store/);
  });

  nativeOnly('images and prune work on slipway\'s own store, which the engine runtime does not use')('images lists the store\'s references; prune keeps what they need and --all removes everything', async () => {
    const env = { SLIPWAY_CACHE_DIR: store };
    const images = await cli(['images', '--json'], env).done;
    const rows = images.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ref: string; digest: string });
    expect(rows.map((x) => x.ref)).toContain(fixtureRef('busybox'));

    const kept = await cli(['prune', '--dry-run'], env).done;
    expect(kept.stdout).toBe('');
    const all = await cli(['prune', '--all'], env).done;
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^removed [1-9]\d* references, \d+ snapshots, [1-9]\d* layers, [1-9]\d* blobs/);
    expect((await cli(['images', '--json'], env).done).stdout).toBe('');
  });

  testUnless(engineRuntime(), 'the engine runtime only (natively they are the test above)')('on the engine runtime, images and prune refuse with ERR_UNSUPPORTED naming the engine\'s own client', async () => {
    for (const [command, client] of [['images', 'docker images'], ['prune', 'docker image prune']] as const) {
      const r = await cli([command], { SLIPWAY_CACHE_DIR: store }).done;
      expect(r.code).toBe(125);
      expect(r.stderr).toBe(`slipway: ERR_UNSUPPORTED: slipway ${command} works on slipway's own image store, which the engine runtime does not use (its images are the engine's); fix: use the engine's client (${client}), or SLIPWAY_RUNTIME=native slipway ${command} for slipway's store\n`);
    }
  });

  it('a pull of an absent image prints the code and the hint, exit 125 (slipway\'s own failure)', async () => {
    const r = await cli(['pull', `${fixtureRef('busybox').replace(/:latest$/, '')}:no-such-tag`], { SLIPWAY_CACHE_DIR: store }).done;
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^slipway: ERR_IMAGE_NOT_FOUND: .*no-such-tag.*; fix: check the repository name and tag$/m);
  });

  it('pull --timeout gives up on a registry that accepts and never answers, exit 125', async () => {
    const silent = createServer((s) => { s.on('error', () => {}); s.resume(); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const ref = `127.0.0.1:${(silent.address() as AddressInfo).port}/stall/app:1`;
      const r = await cli(['pull', '--timeout', '1', ref], { SLIPWAY_CACHE_DIR: store }).done;
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(new RegExp(`^slipway: ERR_PULL_TIMEOUT: pulling ${ref} did not finish within 1000 ms .*; fix: .*--timeout`, 'm'));
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });
});
