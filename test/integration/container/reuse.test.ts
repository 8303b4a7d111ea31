import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { cli } from '../cli/harness.js';
import { fixtureRef, helperBuilt, isRoot, skipUnless, slipwayCgroupsOf, spawnTsChild, until, userNamespacesAllowed } from '../harness/index.js';

interface ChildInfo { id: string; name: string; port: number; reused: boolean; before: string | null; pid: number; initPid: number }

// Every process of this file (children, CLI) shares one private state root, so its reuse keeper is this file's own.
const stateDir = mkdtempSync(join(tmpdir(), 'slipway-reuse-'));
const env = { SLIPWAY_STATE_DIR: stateDir, SLIPWAY_REUSE_IDLE_TIMEOUT: '3000', REUSE_LIMIT: isRoot() ? '1' : '0' };
const reuseDir = join(stateDir, 'reuse');

function child(salt: string, extra: NodeJS.ProcessEnv = {}): Promise<{ child: import('node:child_process').ChildProcess; info: ChildInfo }> {
  return spawnTsChild<ChildInfo>(join(import.meta.dirname, 'reuse-child.mts'), { ...env, REUSE_REF: fixtureRef('redis'), REUSE_SALT: salt, ...extra });
}
function alive(pid: number): boolean {
  try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); } catch { return false; }
}
function registry(): { keeperPid: number; containers: { id: string; leases: number }[] } | undefined {
  try { return JSON.parse(readFileSync(join(reuseDir, 'registry.json'), 'utf8')) as never; } catch { return undefined; }
}
async function redisGet(port: number, key: string): Promise<string | null> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    return await r.get(key);
  } finally {
    r.disconnect();
  }
}
/** Waits until the reuse keeper has nothing left, then checks that nothing of it is: process, keeper dirs, socket, cgroups. */
async function expectNothingLeft(keeperPid: number, cgroups: string[]): Promise<void> {
  await until(() => !alive(keeperPid), 60_000);
  await until(() => readdirSync(stateDir).filter((n) => n.startsWith('keeper-')).length === 0, 30_000);
  // Two racing processes may each spawn a reuse keeper: the loser waits for the lock (up to 10 s) and, when the
  // winner exits within that wait, takes over with nothing to hold and exits after its 2 s grace. Its socket and
  // registry go with it; wait for that too (CI at f8acd0e read them between the winner's exit and the loser's).
  const leftovers = () => readdirSync(reuseDir).filter((n) => n !== 'lock' && n !== 'keeper.log');
  await until(() => leftovers().length === 0, 30_000).catch(() => undefined);
  expect(leftovers()).toEqual([]);
  expect(cgroups.filter(existsSync)).toEqual([]);
}

afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

skipUnless(helperBuilt() && userNamespacesAllowed(), 'the native helper is not built or user namespaces are unavailable')('withReuse() across processes', () => {
  it('a second process gets the same container (id, port, data); killing the holder leaves it serving; the idle timeout removes it and everything of it', async () => {
    const first = await child('a', { REUSE_HOLD: '1', REUSE_WRITE: 'from-first' });
    expect(first.info.reused).toBe(false);
    const cgroups = slipwayCgroupsOf(first.info.initPid);
    if (isRoot()) expect(cgroups.length).toBeGreaterThan(0);
    const keeperPid = registry()!.keeperPid;
    // The container belongs to the reuse keeper, not to the test process.
    expect(keeperPid).not.toBe(first.info.pid);

    const second = await child('a');
    expect(second.info).toMatchObject({ id: first.info.id, port: first.info.port, reused: true, before: 'from-first' });
    await new Promise((r) => second.child.once('exit', r));

    // The holder dies without a word: the container keeps serving.
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    expect(await redisGet(first.info.port, 'slipway-reuse')).toBe('written');
    // ...until no process has used it for the idle timeout (3 s here).
    await expectNothingLeft(keeperPid, cgroups);
  });

  it('a process with other slipway settings is declined by the running reuse keeper and starts its own container', async () => {
    // The reuse keeper pulls and starts with its spawner's settings (here a longer pull timeout than the second's):
    // serving a request made under other ones (another registry prefix, another store…) would be wrong.
    const holder = await child('settings', { REUSE_HOLD: '1', SLIPWAY_PULL_TIMEOUT: '600001' });
    const keeperPid = registry()!.keeperPid;
    const cgroups = slipwayCgroupsOf(holder.info.initPid);
    const other = await child('settings', { SLIPWAY_PULL_TIMEOUT: '600002' });
    expect(other.info.reused).toBe(false);
    expect(other.info.id).not.toBe(holder.info.id);
    // Its container is its own (it keeps the process alive, as any started container does), not the reuse keeper's.
    expect(registry()!.containers.map((c) => c.id)).toEqual([holder.info.id]);
    other.child.kill('SIGTERM');
    await new Promise((r) => other.child.once('exit', r));
    const same = await child('settings', { SLIPWAY_PULL_TIMEOUT: '600001' });
    expect(same.info).toMatchObject({ id: holder.info.id, reused: true });
    holder.child.kill('SIGKILL');
    await new Promise((r) => holder.child.once('exit', r));
    await expectNothingLeft(keeperPid, cgroups);
  });

  it('two processes racing for the same configuration get one container', async () => {
    const [a, b] = await Promise.all([child('race'), child('race')]);
    const keeperPid = registry()!.keeperPid;
    const cgroups = alive(a.info.initPid) ? slipwayCgroupsOf(a.info.initPid) : [];
    expect(a.info.id).toBe(b.info.id);
    expect(a.info.port).toBe(b.info.port);
    expect([a.info.reused, b.info.reused].sort()).toEqual([false, true]);
    // A different configuration (env) is a different container.
    const other = await child('race-other');
    expect(other.info.id).not.toBe(a.info.id);
    await expectNothingLeft(keeperPid, cgroups);
  });

  it('slipway ps lists a reused container (marked reused), slipway rm removes it, and the reuse keeper then goes', async () => {
    const holder = await child('cli', { REUSE_HOLD: '1' });
    const keeperPid = registry()!.keeperPid;
    const json = (await cli(['ps', '--json'], env).done).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; lifetime: string });
    expect(json.find((d) => d.id === holder.info.id)?.lifetime).toBe('reuse');
    const table = (await cli(['ps'], env).done).stdout;
    expect(table).toMatch(new RegExp(`${holder.info.name} +\\d+ \\(slipway reuse keeper\\)`));
    expect(table).toMatch(/Up \d+ seconds? \(reused\)/);

    const rm = await cli(['rm', '-f', holder.info.id.slice(0, 12)], env).done;
    expect(rm.code).toBe(0);
    expect((await cli(['ps', '-a', '-q'], env).done).stdout).not.toContain(holder.info.id.slice(0, 12));
    // Removed for everyone: the next start makes a new one, even while the old holder still runs.
    const next = await child('cli');
    expect(next.info.id).not.toBe(holder.info.id);
    expect(next.info.reused).toBe(false);
    holder.child.kill('SIGKILL');
    await expectNothingLeft(keeperPid, []);
  });
});
