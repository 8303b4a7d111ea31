// A container of this file's own: containerFixture starts it for the first test that asks for it
// and removes it after the file, also when a test fails.
import { expect, test as base } from 'vitest';
import { Container, type StartedContainer } from 'slipway';
import { containerFixture } from 'slipway/vitest';

const test = base.extend<{ box: StartedContainer }>({
  box: containerFixture(() => new Container('busybox:latest').withCommand(['sleep', 'infinity']).start()),
});

test('runs a command in a throwaway container', async ({ box }) => {
  const { exitCode, stdout } = await box.exec(['sh', '-c', 'echo hello from $(hostname)']);
  expect(exitCode).toBe(0);
  expect(stdout).toMatch(/^hello from /);
});
