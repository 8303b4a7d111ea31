// Run by failed-start.test.ts in its own Node process: starts containers whose boot fails, prints the error codes and
// what is left under the keeper, and then has nothing left to do. The test expects this process to exit on its own.
// SLIPWAY_ROOTFS (inherited by the keeper) picks the root strategy, e.g. fuse-overlayfs with its own mount process.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Container, SlipwayError } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { isPoolProcess } from '../harness/netns-pool.js';

const ref = process.env.FAILED_START_REF!;
const limit = (c: Container) => (process.env.FAILED_START_LIMIT === '1' ? c.withMemory('64m').withPids(64) : c);
const codes: string[] = [];
const codeOf = (e: unknown) => { if (process.env.FAILED_START_DEBUG) console.error(e); return SlipwayError.is(e) ? e.code : String(e); };

// On an engine (SLIPWAY_RUNTIME=engine) no keeper runs: what is left is this process's containers in the engine.
const engine = process.env.SLIPWAY_RUNTIME === 'engine';
const keeper = engine ? undefined : await Keeper.get();
/** The keeper's children and the mounts of its mount namespace that lie below its state dir (on an engine: our containers). */
const leftovers = () => (keeper ? {
  // The keeper's prepared network namespace for a next container (native/netpool.h) is nothing of these.
  children: readFileSync(`/proc/${keeper.pid}/task/${keeper.pid}/children`, 'utf8').trim().split(/\s+/).filter((p) => p && !isPoolProcess(Number(p))).join(' '),
  mounts: readFileSync(`/proc/${keeper.pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.includes(keeper.stateDir)),
} : { containers: execFileSync('docker', ['ps', '-aq', '--filter', `label=org.slipway.pid=${process.pid}`], { encoding: 'utf8' }).trim() });
const before = leftovers();

const busy = createServer();
await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
const busyPort = (busy.address() as { port: number }).port;
await limit(new Container(ref).withCommand(['sleep', '1000']).expose(80).expose(81, busyPort)).start().catch((e) => codes.push(codeOf(e)));
busy.close();
await limit(new Container(ref).withCommand(['/no/such/binary']).expose(80)).start().catch((e) => codes.push(codeOf(e)));
await limit(new Container(ref).withCommand(['sleep', '1000']).withCopy('/nonexistent/slipway-source', '/x')).start().catch((e) => codes.push(codeOf(e)));

// The keeper's short-lived workers may still be exiting.
for (let i = 0; i < 150 && JSON.stringify(leftovers()) !== JSON.stringify(before); i++) await new Promise((r) => setTimeout(r, 20));
process.stdout.write(`${JSON.stringify({ codes, keeperPid: keeper?.pid ?? 0, before, after: leftovers() })}\n`);
