// Run by teardown.test.ts in a separate Node process (via vite-node): removes a container whose upper dir holds
// many files and exits at once, while the keeper may still be deleting them (REMOVE is answered before that).
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { specFor } from './fixture.js';

const keeper = await Keeper.start({ stateRoot: process.env.REMOVAL_EXIT_ROOT! });
const spec = specFor(keeper, ['/bin/sh', '-c', 'mkdir /many && cd /many && i=0; while [ $i -lt 300 ]; do echo $i > f$i; i=$((i+1)); done']);
await keeper.createContainer(spec);
await keeper.startContainer(spec.id);
const exit = await keeper.waitContainer(spec.id);
await keeper.removeContainer(spec.id);
process.stdout.write(`${JSON.stringify({ keeperPid: keeper.pid, keeperDir: keeper.stateDir, stateDir: spec.stateDir, exit })}\n`);
process.exit(0);
