// Run by boot-kill.test.ts in its own Node process: starts a container and stops dead at one phase of its boot (a
// patched keeper call that never answers), prints what exists at that moment, and waits to be SIGKILLed.
import { Container, Wait } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';

process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
const phase = process.env.BOOT_KILL_PHASE as 'created' | 'publishing' | 'starting' | 'waiting';
const port = Number(process.env.BOOT_KILL_PORT);
const proto = Keeper.prototype as unknown as Record<string, (this: Keeper, ...a: unknown[]) => Promise<unknown>>;
let initPid = 0;
const report = async () => {
  const keeper = await Keeper.get();
  process.stdout.write(`${JSON.stringify({ keeperPid: keeper.pid, keeperDir: keeper.stateDir, initPid })}\n`);
  setInterval(() => {}, 1000);
  return new Promise(() => {});
};
const wrap = (name: string, when: 'before' | 'after') => {
  const orig = proto[name]!;
  proto[name] = async function (this: Keeper, ...args: unknown[]) {
    if (when === 'before') return report();
    const r = await orig.apply(this, args);
    await report();
    return r;
  };
};
const create = proto.createContainer!;
proto.createContainer = async function (this: Keeper, ...args: unknown[]) {
  const r = (await create.apply(this, args)) as { pid: number };
  initPid = r.pid;
  return r;
};
if (phase === 'created') wrap('createContainer', 'after');
if (phase === 'publishing') wrap('publish', 'before');
if (phase === 'starting') wrap('startContainer', 'before');
if (phase === 'waiting') wrap('startContainer', 'after');
let c = new Container(process.env.BOOT_KILL_REF!).withCommand(['sleep', '1000']).expose(80, port).waitFor(Wait.forLogMessage('never printed'));
if (process.env.BOOT_KILL_LIMIT === '1') c = c.withMemory('64m').withPids(64);
await c.start();
