/**
 * `slipway build` end to end, and two processes building the same context at once into one store: every step runs
 * once (the other process waits on the step's lock and reuses it), and both end with the same image.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { fixtureRef, hasCommand, helperBuilt, nativeOnly, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli, inTerminal } from '../cli/harness.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Steps a build output shows as run (not cached): `[stage n/m] INSTRUCTION`. */
function executed(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\[\S+ \d+\/\d+\] (RUN|COPY)/.test(l) && !l.endsWith('(cached)'));
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'builds need the built helper (make -C native) and user namespaces')('slipway build', () => {
  it('builds, shows each step, prints the reference; `slipway run` starts it; a rebuild is all cached', async () => {
    const ctx = tempDir('slipway-cli-build-');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${fixtureRef('busybox')}\nARG WHO\nCOPY msg.txt nonce /\nRUN echo "built for $WHO" >> /msg.txt && echo step-output\nCMD ["cat", "/msg.txt"]\n`);
    writeFileSync(join(ctx, 'msg.txt'), 'hello\n');
    writeFileSync(join(ctx, 'nonce'), `${Date.now()} ${Math.random()}\n`); // no cache from an earlier run of this test: RUN's output shows
    const r = await cli(['build', '-t', 'slipway-test/cli-build:1', '--build-arg', 'WHO=cli', ctx]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('docker.io/slipway-test/cli-build:1\n');
    expect(r.stderr).toMatch(/^\[0 4\/5\] RUN echo "built for \$WHO"/m);
    expect(r.stderr).toMatch(/^ {2}step-output$/m);
    expect(r.stderr).toMatch(/^\[0 4\/5\] done in \d+\.\ds$/m);
    const run = await cli(['run', '--rm', 'slipway-test/cli-build:1']).done;
    expect(run).toMatchObject({ code: 0, stdout: 'hello\nbuilt for cli\n' });
    const again = await cli(['build', '-t', 'slipway-test/cli-build:1', '--build-arg', 'WHO=cli', ctx]).done;
    expect(executed(again.stderr)).toEqual([]);
    const failed = await cli(['build', join(ctx, 'nope')]).done;
    expect(failed.code).toBe(125);
    expect(failed.stderr).toMatch(/^slipway: ERR_BUILD_CONTEXT: the build context .* is not a directory/);
  }, 300_000); // four CLI processes, each a node start and a build: 113-120 s at load 22-26

  nativeOnly("one run of each step across processes is slipway's per-step store lock; the engine's builder has no such lock across builds (Docker's classic builder: two builds at once both run an uncached step; not checked on its BuildKit)")('two processes building one context at once into one store run each step once, and the image they tagged runs', async () => {
    const ctx = tempDir('slipway-cli-build-');
    const store = tempDir('slipway-cli-build-store-');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${fixtureRef('busybox')}\nCOPY a /a\nRUN cat /a /a > /b\nRUN wc -c /b > /c\n`);
    writeFileSync(join(ctx, 'a'), `${'x'.repeat(1000)}\n`);
    const env = { SLIPWAY_CACHE_DIR: store };
    const [one, two] = await Promise.all([
      cli(['build', '-t', 'slipway-test/concurrent:1', ctx], env).done,
      cli(['build', '-t', 'slipway-test/concurrent:1', ctx], env).done,
    ]);
    expect([one.code, two.code], `${one.stderr}\n${two.stderr}`).toEqual([0, 0]);
    expect([...executed(one.stderr), ...executed(two.stderr)].sort()).toEqual(['[0 2/4] COPY a /a', '[0 3/4] RUN cat /a /a > /b', '[0 4/4] RUN wc -c /b > /c']);
    const run = await cli(['run', '--rm', 'slipway-test/concurrent:1', 'cat', '/c'], env).done;
    expect(run).toMatchObject({ code: 0, stdout: '2002 /b\n' });
  });

  testUnless(hasCommand('python3'), 'python3 drives the terminal (its pty module)')('on a terminal: a live view redrawn in place (step n/m, the running step\'s time and last line), finished steps kept, FINISHED', async () => {
    const ctx = tempDir('slipway-cli-build-');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${fixtureRef('busybox')}\nCOPY nonce /\nRUN echo first-line && sleep 1 && echo last-line-of-run\nCMD ["true"]\n`);
    writeFileSync(join(ctx, 'nonce'), `${Date.now()} ${Math.random()}\n`);
    const r = await inTerminal(['build', '-t', 'slipway-test/cli-build-tty:1', ctx], []);
    expect(r.code, r.output).toBe(0);
    // Redrawn in place: cursor up and erase, never one plain line per event.
    expect(r.output).toMatch(/\x1b\[\d+A\r\x1b\[J/);
    expect(r.output).toMatch(/\[\+\] Building \d+\.\ds \(\d+\/4\)/);
    expect(r.output).toMatch(/=> => last-line-of-run/);
    expect(r.output).not.toMatch(/^ {2}first-line/m);
    expect(r.output).toMatch(/=> \[0 3\/4\] RUN echo first-line[^\n]* +\d+\.\ds\r?\n/);
    expect(r.output).toMatch(/\[\+\] Building \d+\.\ds \(4\/4\) FINISHED/);
    const again = await inTerminal(['build', '-t', 'slipway-test/cli-build-tty:1', ctx], []);
    expect(again.output).toMatch(/=> CACHED \[0 3\/4\] RUN echo first-line/);
  });
});
