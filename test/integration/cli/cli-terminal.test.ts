/**
 * `slipway run` at a terminal: Ctrl-C is SIGINT to the terminal's whole foreground process group. It must reach
 * slipway only (not its keeper), which sends the container its stop signal and waits; a second Ctrl-C kills.
 */
import { describe, expect, it } from 'vitest';
import { fixtureRef, hasCommand, helperBuilt, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { inTerminal } from './harness.js';

const CTRL_C = '\x03';

skipUnless(helperBuilt() && userNamespacesAllowed() && hasCommand('python3'), 'needs the built helper, user namespaces and python3 (its pty module drives the terminal)')('slipway run in a terminal', () => {
  it('Ctrl-C delivers the stop signal, waits for the container to finish, and exits 130', async () => {
    // The service takes a moment to shut down: slipway must wait for it, not leave (or lose its keeper) at once.
    const script = 'trap "sleep 1; echo cleaned up; exit 0" TERM; echo ready; while :; do sleep 0.1; done';
    const r = await inTerminal(['run', fixtureRef('busybox'), 'sh', '-c', script], [{ wait: 'ready', send: CTRL_C }]);
    expect(r.ok).toBe(true);
    expect(r.output).toMatch(/slipway: stopping slipway-[0-9a-f]{12} \(SIGINT again to kill\)/);
    expect(r.output).toContain('cleaned up');
    expect(r.output).not.toContain('keeper exited');
    expect(r.code).toBe(130);
  });

  it('a second Ctrl-C kills a container that ignores its stop signal, exit 130', async () => {
    const script = 'trap "echo ignoring TERM" TERM; echo ready; while :; do sleep 0.1; done';
    const r = await inTerminal(['run', '--stop-timeout', '600', fixtureRef('busybox'), 'sh', '-c', script], [
      { wait: 'ready', send: CTRL_C },
      { wait: 'ignoring TERM', send: CTRL_C },
    ]);
    expect(r.ok).toBe(true);
    expect(r.output).toContain('slipway: SIGINT again, killing the container');
    expect(r.code).toBe(130);
  });

  it('--stop-signal is what Ctrl-C delivers', async () => {
    const script = 'trap "echo got USR1; exit 0" USR1; trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.1; done';
    const r = await inTerminal(['run', '--stop-signal', 'SIGUSR1', fixtureRef('busybox'), 'sh', '-c', script], [{ wait: 'ready', send: CTRL_C }]);
    expect(r.output).toContain('got USR1');
    expect(r.output).not.toContain('got TERM');
    expect(r.code).toBe(130);
  });
});
