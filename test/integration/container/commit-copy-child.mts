// Run by commit.test.ts in its own Node process (via vite-node) with SLIPWAY_ROOTFS=copy, which its keeper reads at
// start: the container's root is a copy of the layers, and commit() must refuse it. Prints one JSON line.
import { Container, Wait } from '../../../src/index.js';

const c = await new Container(process.env.COMMIT_REF!).withEntrypoint(['sleep']).withCommand(['1000']).waitFor(Wait.none()).start();
const wrote = await c.exec(['sh', '-c', 'echo changed > /changed']);
let result: Record<string, unknown>;
try {
  result = { committed: await c.commit({ tag: `slipway-test/commit-copy:${process.pid}` }) };
} catch (e) {
  const err = e as { code?: string; shortMessage?: string; message: string; hint?: string };
  result = { code: err.code, message: err.shortMessage ?? err.message, hint: err.hint };
}
await c.remove();
process.stdout.write(`${JSON.stringify({ ...result, wrote: wrote.exitCode })}\n`);
process.exit(0);
