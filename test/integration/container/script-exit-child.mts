// Run by script-exit.test.ts in its own Node process: starts a container (kept for reuse with EXIT_REUSE=1), waits for
// its output, prints what the test needs as one JSON line and returns without stopping or removing it, as a script
// that forgets stop() does. With EXIT_BRIEF=1 the container's command ends by itself a moment later.
import { Container, Wait } from '../../../src/index.js';

let builder = new Container(process.env.EXIT_REF!)
  .withCommand(['sh', '-c', `echo ready; exec sleep ${process.env.EXIT_BRIEF === '1' ? 2 : 1000}`])
  .withEnv({ EXIT_SALT: process.env.EXIT_SALT ?? '' })
  .waitFor(Wait.forLogMessage('ready'));
if (process.env.EXIT_REUSE === '1') builder = builder.withReuse();
const c = await builder.start();
process.stdout.write(`${JSON.stringify({ id: c.id, reused: c.reused })}\n`);
