import { constants } from 'node:os';
import { Container } from '../api/container.js';
import type { StartedContainer } from '../api/started-container.js';
import { Wait } from '../api/wait/index.js';
import { SlipwayError } from '../errors.js';
import type { RunCommand } from './args.js';
import { write, type CliIO } from './io.js';

/** The builder a `slipway run` command line describes (no readiness wait, like `docker run`). */
export function builderFor(cmd: RunCommand): Container {
  let c = new Container(cmd.ref).waitFor(Wait.none());
  if (Object.keys(cmd.env).length) c = c.withEnv(cmd.env);
  for (const p of cmd.publish) c = c.expose({ container: p.container, protocol: p.protocol, host: p.host, hostIp: p.hostIp });
  if (cmd.memory !== undefined) c = c.withMemory(cmd.memory);
  if (cmd.cpus !== undefined) c = c.withCpus(cmd.cpus);
  if (cmd.user !== undefined) c = c.withUser(cmd.user);
  if (cmd.workdir !== undefined) c = c.withWorkdir(cmd.workdir);
  if (cmd.network !== undefined) c = c.withNetworkMode(cmd.network);
  if (cmd.entrypoint !== undefined) c = c.withEntrypoint([cmd.entrypoint]);
  if (cmd.args.length) c = c.withCommand(cmd.args);
  if (cmd.name !== undefined) c = c.withName(cmd.name);
  if (cmd.platform !== undefined) c = c.withPlatform(cmd.platform);
  if (cmd.pull !== undefined) c = c.withPullPolicy(cmd.pull);
  if (cmd.stopSignal !== undefined) c = c.withStopSignal(/^\d+$/.test(cmd.stopSignal) ? Number(cmd.stopSignal) : cmd.stopSignal);
  return c;
}

/** Exit status for how the container ended: its code, or 128 + the signal's number. */
export function exitStatus(exit: { exitCode: number | null; signal: string | null }): number {
  if (exit.exitCode !== null) return exit.exitCode;
  const n = exit.signal ? (constants.signals as Record<string, number | undefined>)[exit.signal] : undefined;
  return 128 + (n ?? 0);
}

/**
 * `slipway run`: starts the container, streams its output, and resolves with the exit status: the
 * container's, or 130/143 after SIGINT/SIGTERM (the container is stopped first; a second signal exits at once,
 * and the keeper, seeing slipway gone, kills the container).
 */
export async function runCommand(cmd: RunCommand, io: CliIO): Promise<number> {
  const builder = builderFor(cmd);
  if (cmd.tty) {
    io.stderr.write('slipway: run -t: no pseudo-terminal — slipway\'s runtime cannot give a container a terminal yet; its output streams through pipes\n');
  }
  const abort = new AbortController();
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  let container: StartedContainer | undefined;
  const off = io.onSignal((s) => {
    if (interrupted) {
      io.stderr.write(`slipway: ${s} again, killing the container\n`);
      process.exit(s === 'SIGINT' ? 130 : 143);
    }
    interrupted = s;
    abort.abort(new SlipwayError('ERR_ABORTED', `interrupted by ${s}`));
    if (container) {
      io.stderr.write(`slipway: stopping ${container.name} (${s} again to kill)\n`);
      container.stop({ timeout: cmd.stopTimeout * 1000 }).catch(() => {});
    }
  });
  const interruptedStatus = (): number => (interrupted === 'SIGTERM' ? 143 : 130);
  try {
    try {
      container = await builder.start({ signal: abort.signal });
    } catch (e) {
      if (interrupted) return interruptedStatus();
      throw e;
    }
    const c = container;
    if (interrupted) void c.stop({ timeout: cmd.stopTimeout * 1000 }).catch(() => {});
    for (const p of cmd.publish) {
      const spec = `${p.container}/${p.protocol}`;
      io.stderr.write(`${spec} -> ${p.hostIp}:${c.getMappedPort(spec)}\n`);
    }
    const pump = async (out: NodeJS.WritableStream, which: 'stdout' | 'stderr'): Promise<void> => {
      for await (const line of c.logs({ follow: true, stdout: which === 'stdout', stderr: which === 'stderr' })) await write(out, `${line}\n`);
    };
    const pumps = Promise.all([pump(io.stdout, 'stdout'), pump(io.stderr, 'stderr')]);
    const exit = await c.wait();
    await pumps;
    await c.remove();
    if (interrupted) return interruptedStatus();
    if (exit.oomKilled) io.stderr.write(`slipway: ${c.name} was killed for running out of memory (--memory)\n`);
    return exitStatus(exit);
  } finally {
    off();
    await container?.remove().catch(() => {});
  }
}
