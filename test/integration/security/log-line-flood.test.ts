/**
 * Hole: a container printing without a newline (`tr '\0' x < /dev/zero`) during a log wait made the test process join
 * the keeper's 16 KiB partial records into one string without end: 690 MB of RSS within 40 s, then V8's untyped
 * `RangeError: Invalid string length` instead of the wait's timeout. A line is now cut into pieces of at most 1 MiB
 * (`MAX_LINE_CHARS`), so the wait times out as any other (`ERR_WAIT_TIMEOUT`), and output as written (`run()`,
 * `logs().text()`) is unchanged byte for byte.
 */
import { expect, it } from 'vitest';
import { Container, Wait } from '../../../src/index.js';
import { engineRuntime, fixtureRef, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable (run: make -C native)')('security: a log line without end', () => {
  it('a log wait on a container printing without a newline ends with ERR_WAIT_TIMEOUT, holding a bounded amount', async () => {
    global.gc?.();
    const rss0 = process.memoryUsage.rss();
    let peak = 0;
    const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss() - rss0); }, 50);
    try {
      const err = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', 'tr "\\0" x < /dev/zero'])
        .waitFor(Wait.forLogMessage('never printed')).withStartupTimeout(10_000).start().then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_WAIT_TIMEOUT' });
      // The failure's last log lines are shortened, not megabytes each.
      expect((err as Error).message.length).toBeLessThan(256 << 10);
    } finally {
      clearInterval(sample);
    }
    // A sanity bound, not the discriminator (the message above is): the reader turns over ~100 MB/s of strings, and
    // under a loaded machine V8 collects late (323 MB once in a full security run; 40 s alone peaks at 263 MB of RSS
    // with the heap at 100 MB, flat). The old reader grew without end: 692 MB in 40 s, then RangeError.
    expect(peak).toBeLessThan(512 << 20);
  });

  // On the engine too: Docker stores a long line as 16 KiB messages, each with its own timestamp in the log stream
  // (they were left inside the line). Natively a UTF-8 character the keeper cut between two records became two
  // U+FFFD; Docker's json-file driver already stores a cut character as U+FFFDs (`docker logs` prints them too).
  it('output as written keeps a 3 MiB line and a line of 3-byte characters whole', async () => {
    const euros = "awk 'BEGIN { s = \"\\342\\202\\254\"; for (i = 0; i < 16; i++) s = s s; print s }'";
    const r = await new Container(fixtureRef('busybox')).withCommand(['sh', '-c', `head -c 3145728 /dev/zero | tr "\\0" y; echo; echo next; ${euros}`]).run();
    expect(r.exitCode).toBe(0);
    const ascii = `${'y'.repeat(3 << 20)}\nnext\n`;
    expect(r.stdout.length).toBeGreaterThan(ascii.length);
    expect(r.stdout.slice(0, ascii.length) === ascii).toBe(true);
    const rest = r.stdout.slice(ascii.length);
    if (engineRuntime()) expect(rest.replace(/\ufffd/g, '')).toMatch(/^€+\n$/);
    else expect(rest === `${'€'.repeat(1 << 16)}\n`, rest.slice(0, 200)).toBe(true);
  });
});
