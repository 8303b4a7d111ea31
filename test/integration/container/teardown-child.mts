// Run by teardown.test.ts in its own Node process (via vite-node), which the test then kills.
import { Container, Wait } from '../../../src/index.js';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';

// Arguments come through the environment: vite-node treats extra argv entries as more files to run.
// vite-node's server installs a SIGTERM handler that closes it first (seconds under load): drop it, so the
// signals behave as in a plain Node process, which is what this test is about.
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
const ref = process.env.TEARDOWN_REF!;
const withLimit = process.env.TEARDOWN_LIMIT === '1';
const a = await new Container(ref).withCommand(['sh', '-c', 'httpd -p 8080 -h /; sleep 1000 & sleep 1000']).expose(8080).waitFor(Wait.forListeningPorts()).start();
let b = new Container(ref).withCommand(['sleep', '1000']);
if (withLimit) b = b.withMemory('64m').withPids(64);
const bs = await b.start();
// On an engine no keeper runs: the test checks the engine's containers of this process instead.
const keeper = process.env.SLIPWAY_RUNTIME === 'engine' ? undefined : await Keeper.get();
process.stdout.write(`${JSON.stringify({ keeperPid: keeper?.pid ?? 0, keeperDir: keeper?.stateDir ?? '', initPids: [a.pid, bs.pid], port: a.getMappedPort(8080) })}\n`);
setInterval(() => {}, 1000);
