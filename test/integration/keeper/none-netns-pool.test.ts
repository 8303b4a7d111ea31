/**
 * The prepared network namespace of network mode none (native/keeper.c `none_pool`): once a none container was
 * created, the keeper keeps one namespace with lo up ready (made by its namespace janitor's child while nothing
 * boots), and the next none container's init joins it instead of cloning a namespace of its own. A spare serves one
 * container only: every container has a namespace no other container had, with lo up and nothing else in it. Fails on
 * a helper without the pool: the keeper never holds a network namespace that is not one of its containers'.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { busyboxRootfs, removalSettled, skipReason, specFor, until } from './fixture.js';

const skip = skipReason();

/** The network namespaces the keeper holds fds of (its containers' and any spare). */
function keeperNetns(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/^net:\[\d+\]$/.test(l)) out.push(l);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe.skipIf(skip)('keeper: the prepared namespace of network mode none', () => {
  let keeper: Keeper;
  beforeAll(async () => {
    busyboxRootfs();
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    await keeper?.close();
  });

  /** A none container running `sleep`: its id, state dir and network namespace. */
  async function sleeper(): Promise<{ id: string; stateDir: string; netns: string }> {
    const spec = specFor(keeper, ['sleep', '1000']);
    const { pid } = await keeper.createContainer(spec);
    const netns = readlinkSync(`/proc/${pid}/ns/net`); // before START: init is not dumpable from then on
    await keeper.startContainer(spec.id);
    return { id: spec.id, stateDir: spec.stateDir, netns };
  }

  /** A none container that prints what it sees of its network, run to its end: its namespace and output. */
  async function probe(): Promise<{ netns: string; stdout: string }> {
    const spec = specFor(keeper, ['sh', '-c', 'ls /sys/class/net; cd /sys/class/net/lo && cat operstate flags carrier mtu; cat /proc/net/dev | wc -l']);
    const { pid } = await keeper.createContainer(spec);
    const netns = readlinkSync(`/proc/${pid}/ns/net`);
    await keeper.startContainer(spec.id);
    const exit = await keeper.waitContainer(spec.id);
    expect(exit.exitCode).toBe(0);
    const log = readFileSync(spec.logPath!, 'utf8');
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    const stdout = log.split('\n').filter((l) => / stdout [FP] /.test(l)).map((l) => l.replace(/^\S+ stdout [FP] /, '')).join('\n');
    return { netns, stdout };
  }

  /** The spare: a namespace the keeper holds that none of `seen` is. */
  async function spare(seen: string[]): Promise<string> {
    let found: string | undefined;
    await until(() => (found = keeperNetns(keeper.pid).find((n) => !seen.includes(n))) !== undefined, 10_000);
    expect(found, 'a network namespace the keeper holds for the next none container').toBeDefined();
    return found!;
  }

  it('the next none container joins the namespace prepared meanwhile; none is shared; what a container sees is the same', async () => {
    // Namespace inode numbers are reused once a namespace is gone: only live ones are compared.
    const own = await probe(); // the first: no spare yet, a namespace of its own as always (gone now)
    expect(own.stdout.split('\n').slice(0, 2)).toEqual(['lo', 'unknown']);
    const spare1 = await spare([]);

    const first = await sleeper();
    expect(first.netns).toBe(spare1);
    const spare2 = await spare([first.netns]);

    const second = await sleeper();
    expect(second.netns).toBe(spare2);
    const spare3 = await spare([first.netns, second.netns]);

    const pooled = await probe();
    expect(pooled.netns).toBe(spare3);
    expect(new Set([first.netns, second.netns, pooled.netns]).size).toBe(3);
    // lo up and alone, as in a namespace of the container's own.
    expect(pooled.stdout).toBe(own.stdout);

    for (const c of [first, second]) {
      await keeper.removeContainer(c.id);
      await removalSettled(keeper, c.stateDir);
    }
  });
});
