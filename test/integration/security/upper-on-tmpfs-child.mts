// Run by upper-on-tmpfs.test.ts in its own Node process (its keeper's state dir is the tmpfs the test made).
// Arguments come through the environment: vite-node treats extra argv entries as more files to run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Container } from '../../../src/index.js';
import { defaultStoreRoot } from '../../../src/image/store.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';

process.removeAllListeners('SIGTERM');
const storeTmp = join(defaultStoreRoot(), 'tmp');
const ours = () => readdirSync(storeTmp).filter((n) => n.startsWith(`upper-${process.pid}-`)).map((n) => join(storeTmp, n));
const keeper = await Keeper.get();
const c = await new Container(process.env.UPPER_REF!).withCommand(['sleep', '1000']).start();
// The container writes 32 MiB into its own file system (its writable layer).
const w = await c.exec(['sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=32 2>&1 && sync && ls -l /big']);
// KiB in the state dir (the writable layer's files included when it lives there; rootless, some may be unreadable).
const du = spawnSync('du', ['-sk', keeper.stateDir], { encoding: 'utf8' });
const uppers = ours();
if (process.env.UPPER_REMOVE === '1') await c.remove();
process.stdout.write(`${JSON.stringify({
  exitCode: w.exitCode, output: w.stdout + w.stderr, stateKiB: Number(du.stdout.split('\t')[0]), stateDir: keeper.stateDir,
  uppers, left: ours(), storeRoot: defaultStoreRoot(),
})}\n`);
setInterval(() => {}, 1000);
