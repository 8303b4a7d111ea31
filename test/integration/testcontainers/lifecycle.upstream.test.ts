/**
 * testcontainers-node v12.1.0 `generic-container-lifecycle`, `abstract-started-container`, `generic-container-logs` and
 * `generic-container-restart` tests, ported in our words to `slipway/testcontainers` with its own image
 * (cristianrgreco/testcontainer:1.1.14) from the test registry.
 * - "logs after restart" spies on testcontainers' debug logger (`DEBUG=testcontainers:containers`): ported as such, and
 *   the same thing is asked of logs(): the restarted run's start-up line is there (once per run).
 * - withLogConsumer and logs after restart: wait for the start-up line, not the port, so the immediate stop() or
 *   restart() cannot kill node between its listen() and its log line.
 * - logs({ since }): upstream sleeps 5 s between two lines; here the second line is written on cue after the `since`
 *   second has begun, so the test does not depend on timing.
 */
import { Readable } from 'node:stream';
import createDebug from 'debug';
import { expect, it, vi } from 'vitest';
import { AbstractStartedContainer, GenericContainer, RandomUuid, Wait, type InspectResult, type StartedTestContainer } from '../../../src/testcontainers.js';
import { containerLog } from '../../../src/testcontainers/logger.js';
import { skipUnless } from '../harness/index.js';
import { canRun, cannotRunReason, expectHealthy, IMAGE, useHubPrefix } from './upstream.js';

async function firstChunk(stream: Readable): Promise<string> {
  const line = await new Promise<string>((resolve, reject) => {
    stream.once('data', (d: Buffer | string) => resolve(String(d)));
    stream.once('error', reject);
  });
  stream.destroy();
  return line;
}

async function readUntil(stream: Readable, done: (s: string) => boolean): Promise<string> {
  let s = '';
  for await (const c of stream) {
    s += String(c);
    if (done(s)) break;
  }
  stream.destroy();
  return s;
}

skipUnless(canRun, cannotRunReason)('GenericContainer lifecycle, logs and restart (testcontainers-node suite, ported)', { timeout: 180_000 }, () => {
  useHubPrefix();

  it('calls the lifecycle hooks of a GenericContainer subclass and of its AbstractStartedContainer', async () => {
    const calls = { beforeContainerCreated: vi.fn(), containerCreated: vi.fn(), containerStarting: vi.fn(), containerStarted: vi.fn(),
      containerStopping: vi.fn(), containerStopped: vi.fn() };
    class CustomStarted extends AbstractStartedContainer {
      protected override async containerStopping(): Promise<void> { calls.containerStopping(); }
      protected override async containerStopped(): Promise<void> { calls.containerStopped(); }
    }
    class Custom extends GenericContainer {
      protected override async beforeContainerCreated(): Promise<void> { calls.beforeContainerCreated(); }
      protected override async containerCreated(id: string): Promise<void> { calls.containerCreated(id); }
      protected override async containerStarting(_inspect: InspectResult, reused: boolean): Promise<void> { calls.containerStarting(reused); }
      protected override async containerStarted(_c: StartedTestContainer, _inspect: InspectResult, reused: boolean): Promise<void> { calls.containerStarted(reused); }
      override async start(): Promise<CustomStarted> { return new CustomStarted(await super.start()); }
    }
    const c = await new Custom(IMAGE).withExposedPorts(8080).start();
    expect(calls.beforeContainerCreated).toHaveBeenCalledOnce();
    expect(calls.containerCreated).toHaveBeenCalledWith(c.getId());
    expect(calls.containerStarting).toHaveBeenCalledWith(false);
    expect(calls.containerStarted).toHaveBeenCalledWith(false);
    expect(calls.containerStopping).not.toHaveBeenCalled();
    await c.stop();
    expect(calls.containerStopping).toHaveBeenCalledOnce();
    expect(calls.containerStopped).toHaveBeenCalledOnce();
  });

  it('a start that reuses a container calls beforeContainerCreated only, and returns the same container', async () => {
    const calls = { beforeContainerCreated: vi.fn(), containerCreated: vi.fn(), containerStarting: vi.fn(), containerStarted: vi.fn() };
    class Custom extends GenericContainer {
      protected override async beforeContainerCreated(): Promise<void> { calls.beforeContainerCreated(); }
      protected override async containerCreated(id: string): Promise<void> { calls.containerCreated(id); }
      protected override async containerStarting(_inspect: InspectResult, reused: boolean): Promise<void> { calls.containerStarting(reused); }
      protected override async containerStarted(_c: StartedTestContainer, _inspect: InspectResult, reused: boolean): Promise<void> { calls.containerStarted(reused); }
    }
    await using first = await new GenericContainer(IMAGE).withExposedPorts(8080).withReuse().start();
    const second = await new Custom(IMAGE).withExposedPorts(8080).withReuse().start();
    expect(second.getId()).toBe(first.getId());
    expect(calls.beforeContainerCreated).toHaveBeenCalled();
    expect(calls.containerCreated).not.toHaveBeenCalled();
    expect(calls.containerStarting).not.toHaveBeenCalled();
    expect(calls.containerStarted).not.toHaveBeenCalled();
  });

  // generic-container-reuse's "should not reuse the container even when there is a candidate 1/2": Docker's names are
  // global; slipway's are per process, and the reused containers this process leases count among them.
  it('a name held by a reused container refuses a plain start of that name, and the other way round', async () => {
    const name = `there_can_only_be_one_${new RandomUuid().nextUuid()}`;
    {
      await using reused = await new GenericContainer(IMAGE).withName(name).withExposedPorts(8080).withReuse().start();
      await expectHealthy(reused);
      await expect(new GenericContainer(IMAGE).withName(name).withExposedPorts(8080).start()).rejects.toThrow(/already running in this process/);
    }
    const other = `there_can_only_be_one_${new RandomUuid().nextUuid()}`;
    await using plain = await new GenericContainer(IMAGE).withName(other).withExposedPorts(8080).start();
    await expectHealthy(plain);
    await expect(new GenericContainer(IMAGE).withName(other).withExposedPorts(8080).withReuse().start()).rejects.toThrow(/already running in this process/);
  });

  it('await using an AbstractStartedContainer calls its containerStopping and containerStopped', async () => {
    const events: string[] = [];
    class CustomStarted extends AbstractStartedContainer {
      protected override async containerStopping(): Promise<void> { events.push('stopping'); }
      protected override async containerStopped(): Promise<void> { events.push('stopped'); }
    }
    {
      await using _c = new CustomStarted(await new GenericContainer(IMAGE).withExposedPorts(8080).start());
    }
    expect(events).toEqual(['stopping', 'stopped']);
  });

  it('withLogConsumer gets the output from the start on', async () => {
    // Waiting for the line (upstream waits for the port): node logs it just after listen(), and stop() right after a
    // port wait could kill it in between.
    const line = await new Promise<string>((resolve, reject) => {
      new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forLogMessage('Listening on port 8080'))
        .withLogConsumer((stream) => {
          stream.once('data', (l: Buffer | string) => resolve(String(l)));
          stream.once('end', () => resolve('(the stream ended without a line)'));
        })
        .start().then((c) => c.stop(), reject);
    });
    expect(line).toContain('Listening on port 8080');
  });

  it('logs() of a started container streams its output', async () => {
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8080).start();
    expect(await firstChunk(await c.logs())).toContain('Listening on port 8080');
  });

  it('logs({ since }) leaves out what was written before that second', async () => {
    await using c = await new GenericContainer(IMAGE)
      .withEntrypoint(['/bin/sh', '-c', 'echo first && while [ ! -e /tmp/go ]; do sleep 0.05; done && echo second && sleep infinity'])
      .withWaitStrategy(Wait.forLogMessage('first')).start();
    const since = Math.floor(Date.now() / 1000) + 1;
    while (Date.now() < since * 1000) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    await c.exec(['touch', '/tmp/go']);
    expect((await firstChunk(await c.logs({ since }))).trim()).toBe('second');
  });

  it('logs() after restart() have the restarted run', async () => {
    // Waiting for the line, not the port (as withLogConsumer above): a restart right after a port wait can kill node
    // before it logs; restart() runs the same wait for the new run.
    await using c = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forLogMessage('Listening on port 8080')).start();
    await c.restart();
    const logs = await readUntil(await c.logs(), (s) => s.split('Listening on port 8080').length > 2);
    expect(logs.split('Listening on port 8080').length - 1).toBe(2);
  });

  it('DEBUG=testcontainers:containers traces each run\'s output, the restarted run\'s too (upstream spies on the logger)', async () => {
    const trace = vi.spyOn(containerLog, 'trace').mockImplementation(() => {});
    const enabled = createDebug.disable();
    createDebug.enable('testcontainers:containers');
    try {
      await using c = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forLogMessage('Listening on port 8080')).start();
      await c.restart();
      const listening = () => trace.mock.calls.filter(([line, o]) => line.includes('Listening on port 8080') && o?.containerId === c.getId()).length;
      await vi.waitFor(() => expect(listening()).toBe(2));
    } finally {
      createDebug.enable(enabled);
      trace.mockRestore();
    }
  });

  it('without DEBUG, nothing is traced', async () => {
    const trace = vi.spyOn(containerLog, 'trace');
    const enabled = createDebug.disable();
    try {
      await using c = await new GenericContainer(IMAGE).withExposedPorts(8080).withWaitStrategy(Wait.forLogMessage('Listening on port 8080')).start();
      await c.restart();
      expect(trace).not.toHaveBeenCalled();
    } finally {
      createDebug.enable(enabled);
      trace.mockRestore();
    }
  });

  it('restart() keeps id and name and returns with the service up', async () => {
    await using c = await new GenericContainer(IMAGE).withName(`container-${new RandomUuid().nextUuid()}`).withExposedPorts(8080).start();
    const [id, name] = [c.getId(), c.getName()];
    await c.restart();
    await expectHealthy(c);
    expect(c.getId()).toBe(id);
    expect(c.getName()).toBe(name);
  });

  it('restart() keeps the files the container wrote', async () => {
    await using c = await new GenericContainer(IMAGE).withName(`container-${new RandomUuid().nextUuid()}`).withExposedPorts(8080).start();
    await c.exec(['sh', '-c', "echo 'testconfig' >> config.txt"]);
    await c.restart();
    await expectHealthy(c);
    expect((await c.exec(['cat', 'config.txt'])).output).toBe('testconfig\n');
  });
});
