/**
 * `slipway ps`, `logs`, `exec`, `rm` and `inspect`: the containers of this user's live slipway processes, found and
 * controlled through their owners (runtime facade: listContainers / findContainer and friends), and on an engine
 * runtime the engine's containers of slipway sessions, which the engine serves itself (no owner is asked).
 */
import { constants } from 'node:os';
import {
  engineContainerDescription, engineContainerExec, engineContainerLogs, engineContainerRemove, execInContainer, findContainer,
  listContainers, listEngineSessionContainers, readLogLines, removeContainer, waitForExit,
  type ContainerDescription, type LocatedContainer,
} from '../runtime/index.js';
import { SlipwayError } from '../errors.js';
import type { ExecCommand, InspectCommand, LogsCommand, PsCommand, RmCommand } from './args.js';
import { write, type CliIO } from './io.js';

/** Exit status when slipway itself failed (Docker's convention): never mistaken for a container's or a command's. */
const EXIT_FAILED = 125;

/** `slipway ps`: running containers (all with -a), as a table, ids (-q) or JSON lines. */
export async function psCommand(cmd: PsCommand, io: CliIO): Promise<number> {
  const { containers, unanswered } = await listContainers({ env: io.env });
  for (const u of unanswered) io.stderr.write(`slipway: a slipway process did not answer (${u.reason}); its containers are not listed\n`);
  // On an engine runtime the engine's containers of slipway sessions too (every process's, as docker ps).
  const engine = await listEngineSessionContainers().catch((err: unknown) => {
    io.stderr.write(`slipway: the engine's containers are not listed: ${(err as Error).message}\n`);
    return [];
  });
  const shown = [...containers.map((c) => c.description), ...engine].filter((d) => cmd.all || d.state === 'running' || d.state === 'created');
  if (cmd.quiet) {
    for (const d of shown) await write(io.stdout, `${d.id.slice(0, 12)}\n`);
    return 0;
  }
  if (cmd.json) {
    for (const d of shown) await write(io.stdout, `${JSON.stringify(psRecord(d))}\n`);
    return 0;
  }
  const now = Date.now();
  const rows = [
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', 'OWNER'],
    ...shown.map((d) => [
      d.id.slice(0, 12), d.image, quoteCommand(d.command), `${ago(now, d.created)} ago`, status(now, d), ports(d), d.name,
      d.owner ? `${d.owner.pid} (${d.owner.program})` : '',
    ]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const r of rows) await write(io.stdout, `${r.map((c, col) => (col === r.length - 1 ? c : c.padEnd(widths[col]!))).join('   ')}\n`.replace(/ +\n$/, '\n'));
  return 0;
}

/** A `ps --json` line: what the table shows, untruncated (no environment: values may be secrets). */
function psRecord(d: ContainerDescription): Record<string, unknown> {
  return {
    id: d.id, name: d.name, image: d.image, command: d.command, created: d.created, state: d.state,
    ...(d.exit ? { exitCode: d.exit.exitCode, signal: d.exit.signal } : {}),
    ports: d.ports, owner: d.owner, lifetime: d.lifetime,
  };
}

function quoteCommand(argv: readonly string[]): string {
  const s = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  return JSON.stringify(s.length > 30 ? `${s.slice(0, 29)}…` : s);
}

function ago(now: number, iso: string): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} hour${h === 1 ? '' : 's'}` : `${Math.round(h / 24)} days`;
}

function status(now: number, d: ContainerDescription): string {
  // Kept for reuse across runs by the reuse keeper (withReuse()), not by the process that asked for it.
  if (d.lifetime === 'reuse' && d.state === 'running') return `Up ${ago(now, d.started ?? d.created)} (reused)`;
  if (d.state === 'running') return `Up ${ago(now, d.started ?? d.created)}`;
  if (d.state === 'exited') return `Exited (${exitStatus(d.exit ?? { exitCode: null, signal: null })})`;
  return d.state === 'created' ? 'Created' : 'Removing';
}

function ports(d: ContainerDescription): string {
  return d.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.container}/${p.protocol}`).join(', ');
}

/** A container's code, or 128 + the number of the signal that ended it. */
function exitStatus(exit: { exitCode: number | null; signal: string | null }): number {
  if (exit.exitCode !== null) return exit.exitCode;
  const n = exit.signal ? (constants.signals as Record<string, number | undefined>)[exit.signal] : undefined;
  return 128 + (n ?? 0);
}

/** A container `ps` lists: natively with its owner's control socket, on an engine without (the engine serves it). */
type Target = LocatedContainer | { description: ContainerDescription; socket?: undefined };

/**
 * Finds `ref` (a name, an id or an id prefix) among this user's processes' containers and, on an engine runtime, the
 * engine's containers of slipway sessions, as `ps` lists them; ambiguous or absent is ERR_CONTAINER_NOT_FOUND.
 */
async function locate(ref: string, io: CliIO): Promise<Target> {
  try {
    return await findContainer(ref, { env: io.env });
  } catch (e) {
    if (!SlipwayError.is(e, 'ERR_CONTAINER_NOT_FOUND') || /matches \d+ containers/.test(e.message)) throw e;
    const engine = await listEngineSessionContainers().catch(() => [] as ContainerDescription[]);
    const exact = engine.filter((d) => d.name === ref || d.id === ref);
    const matches = exact.length ? exact : /^[0-9a-f]+$/.test(ref) ? engine.filter((d) => d.id.startsWith(ref)) : [];
    if (matches.length === 1) return { description: matches[0]! };
    if (matches.length > 1) {
      throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `"${ref}" matches ${matches.length} containers (${matches.map((d) => d.name).join(', ')})`, { hint: 'give more of the id, or the name' });
    }
    throw e;
  }
}

/** `slipway logs`: stdout lines to stdout, stderr lines to stderr; -f follows until the container exits. */
export async function logsCommand(cmd: LogsCommand, io: CliIO): Promise<number> {
  const target = await locate(cmd.container, io);
  if (target.socket === undefined) {
    for await (const line of engineContainerLogs(target.description.id, { follow: cmd.follow && target.description.state !== 'exited', tail: cmd.tail, since: cmd.since })) {
      await write(line.stream === 'stderr' ? io.stderr : io.stdout, `${cmd.timestamps ? `${line.time.toISOString()} ` : ''}${line.text}\n`);
    }
    return 0;
  }
  let finished = !cmd.follow || target.description.state === 'exited';
  if (!finished) void waitForExit(target).then(() => { finished = true; });
  for await (const line of readLogLines(target.description.logPath, { follow: cmd.follow, since: cmd.since, tail: cmd.tail, done: () => finished })) {
    await write(line.stream === 'stderr' ? io.stderr : io.stdout, `${cmd.timestamps ? `${line.time.toISOString()} ` : ''}${line.text}${line.cut ? '' : '\n'}`);
  }
  return 0;
}

/**
 * `slipway exec`: runs a command in a container of another (or this) process; exits with the command's status,
 * 126/127 when it cannot be run or found (as Docker), 125 when slipway failed.
 */
export async function execCommand(cmd: ExecCommand, io: CliIO): Promise<number> {
  const target = await locate(cmd.container, io);
  if (target.description.state !== 'running') {
    throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${target.description.name} is not running`, { hint: 'exec needs a running container; its logs: `slipway logs`' });
  }
  if (cmd.tty) {
    io.stderr.write('slipway: exec -t: no pseudo-terminal — slipway\'s runtime cannot give an exec a terminal yet; running with pipes instead (no prompt editing, job control or full-screen programs)\n');
  }
  const stdin = cmd.interactive ? io.stdin : undefined;
  const opts = {
    env: cmd.env, user: cmd.user, workdir: cmd.workdir,
    stdin: stdin as AsyncIterable<Uint8Array> | undefined,
    onStdout: (b: Buffer) => { io.stdout.write(b); },
    onStderr: (b: Buffer) => { io.stderr.write(b); },
  };
  const exit = target.socket === undefined ? await engineContainerExec(target.description.id, cmd.args, opts) : await execInContainer(target, cmd.args, opts);
  if (exit.error) io.stderr.write(`slipway: ${exit.error.message}\n`);
  return exitStatus(exit);
}

/** `slipway rm`: removes each container (running ones only with -f); 125 when any could not be removed. */
export async function rmCommand(cmd: RmCommand, io: CliIO): Promise<number> {
  let status = 0;
  for (const ref of cmd.containers) {
    try {
      const target = await locate(ref, io);
      if (target.socket === undefined) await engineContainerRemove(target.description, cmd.force);
      else await removeContainer(target, cmd.force);
      await write(io.stdout, `${ref}\n`);
    } catch (e) {
      if (!SlipwayError.is(e)) throw e;
      io.stderr.write(`slipway: ${e.message}\n`);
      status = EXIT_FAILED;
    }
  }
  return status;
}

/** `slipway inspect`: a JSON array with one object per container (environment names only). */
export async function inspectCommand(cmd: InspectCommand, io: CliIO): Promise<number> {
  const found: ContainerDescription[] = [];
  let status = 0;
  for (const ref of cmd.containers) {
    try {
      const target = await locate(ref, io);
      found.push(target.socket === undefined ? await engineContainerDescription(target.description) : target.description);
    } catch (e) {
      if (!SlipwayError.is(e)) throw e;
      io.stderr.write(`slipway: ${e.message}\n`);
      status = EXIT_FAILED;
    }
  }
  await write(io.stdout, `${JSON.stringify(found, null, 2)}\n`);
  return status;
}
