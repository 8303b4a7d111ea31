/**
 * Prepared network namespaces (native/netpool.h): a CREATE that names its outbound helper's command line (POOL_ARGs)
 * lets the keeper keep one namespace ready for the next container with that line (made once a container's own helper
 * with that line got ready, then again as soon as a container takes the spare), with the helper attached to it (`--netns-type=path`, the namespace's fd at 5) and ready. The next CREATE joins it and its
 * OUTBOUND is answered by that helper. A spare serves one container only, goes with it, and the keeper's spares go
 * with the keeper. A stand-in helper (a shell script) records what it was given, says it is ready, then never exits
 * by itself. Fails on a helper without the pool: the second container gets its own namespace and its own helper.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, removalSettled, skipReason, specFor, sleepersOf, until } from './fixture.js';

const skip = skipReason();
const STUCK = '7394'; // the stand-in's `sleep` argument, to find it in /proc

const stuckHelpers = (): number[] => sleepersOf(STUCK);
const until10 = (pred: () => boolean): Promise<void> => until(pred, 10_000);

describe.skipIf(skip)('keeper: prepared network namespaces', () => {
  let keeper: Keeper;
  let dir: string;
  let helper: string;
  let spareFile: string;
  beforeAll(async () => {
    busyboxRootfs();
    dir = mkdtempSync(join(tmpdir(), 'slipway-netns-pool-'));
    helper = join(dir, 'helper');
    spareFile = join(dir, 'spare');
    // A spare ($2 = --netns-type=path, $3 = the fd's path) records its pid, the namespace behind fd 5 and the path,
    // after its ready byte (so the byte is in the pipe once the file is there); a container's own just says ready.
    writeFileSync(helper, [
      '#!/bin/sh',
      'if [ "$2" = --netns-type=path ]; then',
      '  { echo $$; readlink /proc/self/fd/5; echo "$3"; } > "$1.tmp"',
      '  printf 1 >&3',
      '  mv "$1.tmp" "$1"',
      'else',
      '  printf 1 >&3',
      'fi',
      `exec sleep ${STUCK}`,
      '',
    ].join('\n'));
    chmodSync(helper, 0o755);
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    await keeper?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const pooled = () => ({ netMode: 'isolated' as const, tap: 'eth0', outboundPool: [helper, spareFile, '--netns-type=path', null] });

  /** Creates a container with the pool's command line and asks for its helper behind CREATE, as a boot does. */
  async function create(): Promise<{ id: string; stateDir: string; pid: number; netns: string; helperPid: number }> {
    const spec = specFor(keeper, ['sleep', '1000'], pooled());
    const [{ pid }, helperPid] = await Promise.all([keeper.createContainer(spec), keeper.startOutbound(spec.id, [helper, join(dir, 'own'), null])]);
    return { id: spec.id, stateDir: spec.stateDir, pid, netns: readlinkSync(`/proc/${pid}/ns/net`), helperPid };
  }

  /** The spare made meanwhile (pid, namespace, path), once its helper is ready and the keeper has read its byte. */
  async function nextSpare(): Promise<{ pid: number; netns: string; path: string }> {
    await until10(() => existsSync(spareFile));
    const [pid, netns, path] = readFileSync(spareFile, 'utf8').split('\n');
    rmSync(spareFile);
    // The byte was in the pipe before the file: a request answered after it comes from a later loop turn.
    await keeper.stopOutbound('no-such-container');
    return { pid: Number(pid), netns: netns!, path: path! };
  }

  it('the next container joins the namespace prepared meanwhile, with its ready helper; none is shared; spares go with the keeper', async () => {
    const first = await create();
    await keeper.startContainer(first.id);
    const spare1 = await nextSpare();
    expect(spare1.path).toBe('/proc/self/fd/5');
    expect(spare1.netns).toMatch(/^net:\[\d+\]$/);
    expect(spare1.netns).not.toBe(first.netns);

    const second = await create();
    expect(second.netns).toBe(spare1.netns);
    expect(second.helperPid).toBe(spare1.pid);
    // The next spare is made as soon as one is taken, while that container is still only created (not once the
    // keeper is idle: back-to-back starts then always found the spare not ready yet).
    const spare2 = await nextSpare();
    expect(spare2.netns).not.toBe(spare1.netns);
    await keeper.startContainer(second.id);

    const third = await create();
    expect(third.netns).toBe(spare2.netns);
    expect(new Set([first.netns, second.netns, third.netns]).size).toBe(3);

    // A spare's helper is its container's: it goes with it.
    await keeper.removeContainer(second.id);
    await removalSettled(keeper, second.stateDir);
    await until10(() => !stuckHelpers().includes(spare1.pid));
    expect(stuckHelpers()).not.toContain(spare1.pid);

    await keeper.startContainer(third.id);
    const spare3 = await nextSpare();
    await until10(() => stuckHelpers().includes(spare3.pid)); // past its exec of sleep
    expect(stuckHelpers()).toContain(spare3.pid);
    await keeper.close();
    await until10(() => stuckHelpers().length === 0);
    expect(stuckHelpers()).toEqual([]);
    keeper = await Keeper.start();
  });

  it('a START sent right behind CREATE and OUTBOUND with IF_PREPARED runs only in a prepared namespace; else it is declined and nothing runs', async () => {
    // Sent as a boot sends them: CREATE, OUTBOUND, START, none awaited before the next is written.
    const boot = (argv: string[]) => {
      const spec = specFor(keeper, argv, pooled());
      const created = keeper.createContainer(spec);
      const helperPid = keeper.startOutbound(spec.id, [helper, join(dir, 'own'), null]);
      const started = keeper.startContainer(spec.id, { ifPrepared: true });
      return { spec, created, helperPid, started };
    };
    // No spare for this command line yet (a fresh keeper): declined, the container stays created.
    const first = boot(['sh', '-c', 'exit 3']);
    await expect(first.started).resolves.toBe(false);
    await first.created;
    await first.helperPid;
    await expect(keeper.startContainer(first.spec.id)).resolves.toBe(true);
    expect((await keeper.waitContainer(first.spec.id)).exitCode).toBe(3);
    const spare = await nextSpare();

    // The next one joins the spare: its START goes to init at CREATED, the process runs.
    const second = boot(['sh', '-c', 'exit 7']);
    await expect(second.started).resolves.toBe(true);
    expect(await second.helperPid).toBe(spare.pid);
    expect((await keeper.waitContainer(second.spec.id)).exitCode).toBe(7);
    for (const c of [first, second]) await keeper.removeContainer(c.spec.id);
    await keeper.close(); // and the spare made for the next one
    keeper = await Keeper.start();
  });

  it('no spare is made for a command line whose helper never got ready for a container', async () => {
    const never = join(dir, 'never');
    writeFileSync(never, `#!/bin/sh\nexec sleep ${STUCK}\n`);
    chmodSync(never, 0o755);
    const spec = specFor(keeper, ['true'], { netMode: 'isolated', tap: 'eth0', outboundPool: [never, '--netns-type=path', null] });
    const created = keeper.createContainer(spec);
    const started = keeper.startOutbound(spec.id, [never, null]);
    started.catch(() => undefined); // stopped below, before it was ready
    await created;
    await keeper.stopOutbound(spec.id);
    await started.catch(() => undefined);
    await keeper.startContainer(spec.id);
    await keeper.waitContainer(spec.id);
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    await until10(() => stuckHelpers().length === 0);
    expect(stuckHelpers()).toEqual([]);
  });
});
