// Run by copy-from.test.ts in its own Node process: copyFrom() streams that nobody reads (or that are
// read once and dropped) must not crash the process when the container is removed under them.
import { Container } from '../../../src/index.js';

const c = await new Container(process.env.COPY_REF!).withCommand(['sleep', '1000']).start();
await c.exec(['sh', '-c', 'mkdir /tree && for i in $(seq 1 300); do echo $i > /tree/f$i; done']);
const touched = (await c.copyFrom('/tree')) as NodeJS.ReadableStream;
await new Promise((resolve) => touched.once('readable', resolve));
touched.read(512);
const unread = [await c.copyFrom('/tree'), await c.copyFrom('/tree')];
// In flight when remove() runs: each either resolves to a stream nobody reads or rejects here.
const inFlight = Array.from({ length: 16 }, () => c.copyFrom('/tree').then(() => 'stream', (e: { code?: string }) => e.code ?? 'error'));
await c.remove();
const outcomes: Record<string, number> = {};
for (const o of await Promise.all(inFlight)) outcomes[o] = (outcomes[o] ?? 0) + 1;
// A container whose process has exited (not removed): its files can still be copied (the root file system is
// mounted again for the copy, as testcontainers' StoppedTestContainer needs).
const exited = await new Container(process.env.COPY_REF!).withCommand(['true']).start();
await exited.wait();
outcomes[`exited: ${await exited.copyFrom('/etc').then(() => 'stream', (e: { code?: string }) => e.code ?? 'error')}`] = 1;
await exited.remove();
// A stray 'error' event would fire within a few event-loop turns of remove(); give it plenty.
await new Promise((resolve) => setTimeout(resolve, 500));
process.stdout.write(`${JSON.stringify({ survived: true, unread: unread.length, outcomes })}\n`);
