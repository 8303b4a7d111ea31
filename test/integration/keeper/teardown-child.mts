// Run by teardown.test.ts in a separate Node process (via vite-node) that the test then SIGKILLs.
import { mkdirSync } from 'node:fs';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { specFor } from './fixture.js';

const keeper = await Keeper.get();
const spec = specFor(keeper, ['/bin/sh', '-c', 'sleep 1000 & sleep 1000']);
mkdirSync(spec.stateDir, { recursive: true });
const { pid } = await keeper.createContainer(spec);
await keeper.startContainer(spec.id);
process.stdout.write(`${JSON.stringify({ keeperPid: keeper.pid, initPid: pid, stateDir: spec.stateDir, keeperDir: keeper.stateDir })}\n`);
setInterval(() => {}, 1000);
