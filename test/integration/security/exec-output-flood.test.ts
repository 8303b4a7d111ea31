/**
 * A container that answers an exec() with endless output. exec() held all of it for its result (three times: stdout,
 * stderr and the interleaved output), so `cat /dev/zero` grew the test process until it died, taking every other
 * container of the run with it. Past 64 MiB the command is now stopped and exec() fails with
 * ERR_EXEC_OUTPUT_TOO_LARGE; the container goes on answering. (The old code returned the whole 80 MB as a string.)
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { Container, SlipwayError } from '../../../src/index.js';
import { fixtureRef, helperBuilt, nativeOnly, skipUnless, until, userNamespacesAllowed } from '../harness/index.js';

// The reused container's keeper is this file's own (a private state dir), and goes 3 s after its last lease.
const stateDir = mkdtempSync(join(tmpdir(), 'slipway-exec-flood-'));
process.env.SLIPWAY_STATE_DIR = stateDir;
process.env.SLIPWAY_REUSE_IDLE_TIMEOUT = '3000';
afterAll(async () => {
  // The reuse keeper leaves its dir when it goes (3 s after the last lease); this process's own keeper stays until exit.
  const left = () => { try { return readdirSync(join(stateDir, 'reuse')).filter((n) => n !== 'lock' && n !== 'keeper.log'); } catch { return []; } };
  await until(() => left().length === 0, 30_000).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: an exec that prints without end', () => {
  it('80 MB on stdout (or stderr) is refused past 64 MiB with ERR_EXEC_OUTPUT_TOO_LARGE; the callbacks saw it until then; the container still answers', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    for (const redirect of ['', '>&2']) {
      let seen = 0;
      const e = await c.exec(['sh', '-c', `head -c 80000000 /dev/zero ${redirect}; echo finished > /tmp/finished`], {
        onStdout: (b) => { seen += b.length; }, onStderr: (b) => { seen += b.length; },
      }).then((r) => r, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_EXEC_OUTPUT_TOO_LARGE'), `expected ERR_EXEC_OUTPUT_TOO_LARGE, got ${e instanceof Error ? e.message : `a result of ${(e as { stdout: string }).stdout.length + (e as { stderr: string }).stderr.length} chars`}`).toBe(true);
      expect((e as SlipwayError).message).toMatch(/printed more than 67108864 bytes/);
      expect((e as SlipwayError).hint).toMatch(/copyFrom/);
      expect(seen).toBeGreaterThan(64 << 20);
    }
    expect((await c.exec(['echo', 'still here'])).stdout).toBe('still here\n');
  }, 120_000);

  nativeOnly('the engine has no call to kill an exec: it is only detached')('the stopped command is killed, not left running', async () => {
    await using c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).start();
    const e = await c.exec(['sh', '-c', 'cat /dev/zero; echo finished > /tmp/finished']).then(() => undefined, (x: unknown) => x);
    expect(SlipwayError.is(e, 'ERR_EXEC_OUTPUT_TOO_LARGE'), String(e)).toBe(true);
    // The kill is sent as exec() fails; the process may take a moment to go.
    let ps = '';
    for (let i = 0; i < 100 && /\bcat\b/.test(ps = (await c.exec(['ps', '-o', 'comm'])).stdout); i++) await sleep(100);
    expect(ps).not.toMatch(/\bcat\b/);
    expect((await c.exec(['ls', '/tmp'])).stdout).not.toContain('finished');
  }, 120_000);

  nativeOnly('withReuse() keeps the container in a native reuse keeper')('a reused container: the client stops reading past the bound and its owner kills the command', async () => {
    const c = await new Container(fixtureRef('busybox')).withCommand(['sleep', '1000']).withEnv({ FLOOD: String(process.pid) }).withReuse().start();
    try {
      const e = await c.exec(['sh', '-c', 'cat /dev/zero; echo finished > /tmp/finished']).then(() => undefined, (x: unknown) => x);
      expect(SlipwayError.is(e, 'ERR_EXEC_OUTPUT_TOO_LARGE'), String(e)).toBe(true);
      // The owner sees the connection go and kills the command (it ran on before, printing into nothing).
      let ps = '';
      for (let i = 0; i < 100 && /\bcat\b/.test(ps = (await c.exec(['ps', '-o', 'comm'])).stdout); i++) await sleep(100);
      expect(ps).not.toMatch(/\bcat\b/);
      expect((await c.exec(['ls', '/tmp'])).stdout).not.toContain('finished');
    } finally {
      await c.remove(); // ends the lease: the reuse keeper goes 3 s later
    }
  }, 120_000);
});
