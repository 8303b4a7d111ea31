/**
 * `slipway compose up [-d] | down | ps | logs | exec`: a Compose project run by one `slipway compose up` process
 * (in the foreground, or detached with -d), which owns its containers, networks and volumes and answers on a
 * per-project socket in its keeper dir (`compose-owner.ts`). The other verbs find the project's containers by their
 * `com.docker.compose.*` labels through the processes' control sockets, like `slipway ps/logs/exec` do.
 */
import { basename, dirname, resolve } from 'node:path';
import { ComposeEnvironment } from '../compose/compose-environment.js';
import type { StartedComposeEnvironment } from '../compose/started-compose-environment.js';
import type { StartedContainer } from '../api/started-container.js';
import { Volume } from '../api/volume.js';
import { SlipwayError } from '../errors.js';
import {
  engineContainerExec, engineContainerLogs, execInContainer, listContainers, listEngineSessionContainers, readLogLines, waitForExit,
  type ContainerDescription, type LocatedContainer,
} from '../runtime/index.js';
import type { ComposeCommand } from './compose-args.js';
import { askOwner, detach, findOwner, OWNER_ENV, reportReady, serveProject, type DownRequest } from './compose-owner.js';
import { write, type CliIO } from './io.js';
import { exitStatus } from './run-command.js';

const PROJECT_LABEL = 'com.docker.compose.project';
const SERVICE_LABEL = 'com.docker.compose.service';
const NUMBER_LABEL = 'com.docker.compose.container-number';

/** `slipway compose <verb>`. */
export async function composeCommand(cmd: ComposeCommand, io: CliIO): Promise<number> {
  switch (cmd.verb) {
    case 'up': return up(cmd, io);
    case 'down': return down(cmd, io);
    case 'ps': return ps(cmd, io);
    case 'logs': return logs(cmd, io);
    case 'exec': return exec(cmd, io);
  }
}

interface Project { dir: string; builder: ComposeEnvironment; name: string }

/**
 * The project as `docker compose` finds it: the directory of the first -f file (else the working directory, or
 * --project-directory), and its name from -p, `COMPOSE_PROJECT_NAME`, the file's `name:`, else the directory's name.
 * Reads the files only when the name is not given (or `load`).
 */
function project(cmd: ComposeCommand, io: CliIO, load = false): Project {
  const dir = resolve(cmd.projectDir ?? (cmd.files[0] !== undefined ? dirname(resolve(cmd.files[0])) : '.'));
  let builder = new ComposeEnvironment(dir, cmd.files.length ? cmd.files.map((f) => resolve(f)) : undefined);
  if (cmd.envFile !== undefined) builder = builder.withEnvironmentFile(resolve(cmd.envFile));
  if (cmd.profiles.length) builder = builder.withProfiles(...cmd.profiles);
  if (cmd.snapshots) builder = builder.withSnapshots();
  let name = cmd.projectName ?? io.env.COMPOSE_PROJECT_NAME;
  if (name === undefined || load) {
    const doc = builder.config();
    name ??= (doc.name as string | undefined) ?? (basename(dir).toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '') || 'default');
  }
  return { dir, builder: builder.withProjectName(name).withPersistentVolumes(), name };
}

/** How `compose up` was asked for, as arguments for the detached owner (paths made absolute). */
function ownerArgs(cmd: ComposeCommand, p: Project): string[] {
  return [
    'compose', '--project-directory', p.dir, '-p', p.name,
    ...cmd.files.flatMap((f) => ['-f', resolve(f)]),
    ...cmd.profiles.flatMap((x) => ['--profile', x]),
    ...(cmd.envFile !== undefined ? ['--env-file', resolve(cmd.envFile)] : []),
    'up', '-d', ...(cmd.snapshots ? ['--snapshots'] : []), ...(cmd.timeout !== undefined ? ['-t', String(cmd.timeout)] : []), ...cmd.services,
  ];
}

/**
 * `up`: starts the project and owns it. In the foreground it streams every container's output prefixed with
 * `<service>-<n> | ` and ends when a signal comes (Ctrl-C: everything is stopped and removed; 130/143), when
 * `compose down` asks, or when every container has exited (0). With -d a detached `slipway` process (its own
 * session) does the same without output, and this one returns once the project is up.
 */
async function up(cmd: ComposeCommand, io: CliIO): Promise<number> {
  const p = project(cmd, io);
  const owner = await findOwner(p.name, io.env);
  if (owner) {
    throw new SlipwayError('ERR_COMPOSE_INVALID', `project ${p.name} is already up (slipway process ${owner.pid})`, {
      hint: `stop it first with \`slipway compose -p ${p.name} down\`, or give this one another name with -p`,
    });
  }
  const detached = io.env[OWNER_ENV] === '1';
  if (cmd.detach && !detached) return detach(ownerArgs(cmd, p), io, p.name);

  const abort = new AbortController();
  let stop: ((req: DownRequest) => void) | undefined;
  const stopped = new Promise<DownRequest>((res) => { stop = res; });
  let signalled: 'SIGINT' | 'SIGTERM' | undefined;
  const off = io.onSignal((s) => {
    if (signalled) {
      io.stderr.write(`slipway: ${s} again, killing the containers\n`);
      process.exit(s === 'SIGINT' ? 130 : 143);
    }
    signalled = s;
    if (!detached) io.stderr.write(`slipway: stopping project ${p.name} (${s} again to kill)\n`);
    abort.abort(new SlipwayError('ERR_ABORTED', `interrupted by ${s}`));
    stop!({ removeVolumes: false });
  });
  const interrupted = (): number => (signalled === 'SIGTERM' ? 143 : 130);
  let env: StartedComposeEnvironment;
  try {
    try {
      env = await p.builder.up(cmd.services.length ? cmd.services : undefined, { signal: abort.signal });
    } catch (e) {
      if (signalled) return interrupted();
      if (detached) reportReady({ type: 'error', error: SlipwayError.is(e) ? { code: e.code, message: e.message } : { code: 'ERR_RUNTIME', message: (e as Error).message } });
      throw e;
    }
    // `compose down` from another process waits for the teardown's outcome, then this process ends.
    let settle!: (outcome: Promise<void>) => void;
    const tornDown = new Promise<void>((res) => { settle = res; });
    const server = await serveProject(p.name, { pid: process.pid, detached }, async (req) => {
      stop!(req);
      await tornDown;
    });
    const containers = [...env.containers.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
    const width = Math.max(...containers.map(([k]) => k.length));
    if (detached) {
      reportReady({ type: 'up', containers: containers.map(([key, c]) => ({ key, name: c.name, ports: portsOf(c) })) });
    } else {
      for (const [key, c] of containers) {
        io.stderr.write(`slipway: ${key} started (${c.name})${portsOf(c).map((x) => `, ${x}`).join('')}\n`);
        for (const which of ['stdout', 'stderr'] as const) {
          const out = which === 'stdout' ? io.stdout : io.stderr;
          void (async () => {
            for await (const line of c.logs({ follow: true, stdout: which === 'stdout', stderr: which === 'stderr' })) await write(out, `${key.padEnd(width)} | ${line}\n`);
          })().catch(() => {});
        }
      }
      // Every container ended on its own (one-shot services, or all crashed): the project is over, as with docker compose.
      void Promise.all(containers.map(([, c]) => c.wait().catch(() => undefined))).then(() => stop!({ removeVolumes: false }));
    }
    if (signalled) stop!({ removeVolumes: false });
    const req = await stopped;
    const timeout = req.timeoutMs ?? (cmd.timeout !== undefined ? cmd.timeout * 1000 : undefined);
    const outcome = env.down({ removeVolumes: req.removeVolumes, timeout });
    settle(outcome);
    try {
      await outcome;
    } finally {
      // Let a waiting `compose down` read its answer before this process exits.
      await new Promise<void>((res) => server.close(() => res()));
    }
    if (!detached) io.stderr.write(`slipway: project ${p.name} removed\n`);
    return signalled ? interrupted() : 0;
  } finally {
    off();
  }
}

/** `8080/tcp -> host port 41234` for each published port. */
function portsOf(c: StartedContainer): string[] {
  return [...c.ports].map(([spec, host]) => `${spec} -> host port ${host}`);
}

/**
 * `down`: asks the project's owner to stop and remove everything (-v: its named volumes too) and waits for it. With
 * no owner, -v still removes named volumes an earlier `up` kept.
 */
async function down(cmd: ComposeCommand, io: CliIO): Promise<number> {
  const p = project(cmd, io);
  const owner = await findOwner(p.name, io.env);
  if (owner) {
    await askOwner(owner.socket, { op: 'down', removeVolumes: cmd.removeVolumes, timeoutMs: cmd.timeout !== undefined ? cmd.timeout * 1000 : undefined });
    io.stderr.write(`slipway: project ${p.name} removed${cmd.removeVolumes ? ' with its volumes' : ''}\n`);
    return 0;
  }
  const others = (await projectContainers(p.name, io)).filter((c) => c.description.state !== 'removing');
  if (others.length) {
    const pids = [...new Set(others.map((c) => c.description.owner?.pid ?? c.description.keeperPid))];
    throw new SlipwayError('ERR_COMPOSE_INVALID', `project ${p.name} was not started by \`slipway compose up\` (its containers belong to process ${pids.join(', ')})`, {
      hint: 'it goes when that process calls down() or exits; `slipway rm -f <name>` removes single containers',
    });
  }
  if (cmd.removeVolumes) {
    const removed = await removeKeptVolumes(p);
    io.stderr.write(`slipway: project ${p.name} is not up; removed ${removed.length} volume(s)${removed.length ? `: ${removed.join(', ')}` : ''}\n`);
  } else {
    io.stderr.write(`slipway: project ${p.name} is not up\n`);
  }
  return 0;
}

/** The project's named volumes kept in the store (from its files), removed. */
async function removeKeptVolumes(p: Project): Promise<string[]> {
  const doc = p.builder.config();
  const out: string[] = [];
  for (const [key, def] of Object.entries(doc.volumes)) {
    if (def.external === true) continue;
    const name = (def.name as string | undefined) ?? `${p.name}_${key}`;
    await Volume.named(name, { keep: true }).remove();
    out.push(name);
  }
  return out;
}

/** The project's containers in every process of this user, by service and replica number. */
async function projectContainers(name: string, io: CliIO, services: readonly string[] = []): Promise<ProjectContainer[]> {
  const { containers, unanswered } = await listContainers({ env: io.env });
  for (const u of unanswered) io.stderr.write(`slipway: a slipway process did not answer (${u.reason}); its containers are not listed\n`);
  // On an engine runtime the engine lists every process's containers itself (no owner is asked; socket undefined).
  const engine = await listEngineSessionContainers().catch((err: unknown) => {
    io.stderr.write(`slipway: the engine's containers are not listed: ${(err as Error).message}\n`);
    return [];
  });
  return [...containers, ...engine.map((description) => ({ description }))]
    .filter((c) => c.description.labels?.[PROJECT_LABEL] === name && (!services.length || services.includes(serviceOf(c.description))))
    .sort((a, b) => keyOf(a.description).localeCompare(keyOf(b.description), 'en', { numeric: true }));
}

/** A project's container: natively with its owner's control socket, on an engine without (the engine serves it). */
type ProjectContainer = Omit<LocatedContainer, 'socket'> & { socket?: string };

function serviceOf(d: ContainerDescription): string { return d.labels?.[SERVICE_LABEL] ?? ''; }
function keyOf(d: ContainerDescription): string { return `${serviceOf(d)}-${d.labels?.[NUMBER_LABEL] ?? '1'}`; }

/** `ps`: the project's containers (running; -a: also exited), as a table, names (-q) or JSON lines. */
async function ps(cmd: ComposeCommand, io: CliIO): Promise<number> {
  const p = project(cmd, io);
  const shown = (await projectContainers(p.name, io, cmd.services)).map((c) => c.description).filter((d) => cmd.all || d.state === 'running' || d.state === 'created');
  if (cmd.quiet) {
    for (const d of shown) await write(io.stdout, `${d.id.slice(0, 12)}\n`);
    return 0;
  }
  if (cmd.json) {
    for (const d of shown) {
      await write(io.stdout, `${JSON.stringify({
        name: d.name, service: serviceOf(d), number: Number(d.labels?.[NUMBER_LABEL] ?? 1), id: d.id, image: d.image, state: d.state,
        ...(d.exit ? { exitCode: d.exit.exitCode, signal: d.exit.signal } : {}), ports: d.ports, owner: d.owner,
      })}\n`);
    }
    return 0;
  }
  const rows = [['NAME', 'SERVICE', 'STATUS', 'PORTS'], ...shown.map((d) => [
    d.name, serviceOf(d),
    d.state === 'exited' ? `exited (${exitStatus(d.exit ?? { exitCode: null, signal: null })})` : d.state,
    d.ports.map((x) => `${x.hostIp}:${x.hostPort}->${x.container}/${x.protocol}`).join(', '),
  ])];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const r of rows) await write(io.stdout, `${r.map((c, col) => (col === r.length - 1 ? c : c.padEnd(widths[col]!))).join('   ')}`.trimEnd() + '\n');
  return 0;
}

/** `logs`: each container's output prefixed with `<service>-<n> | `; -f follows them all until they exit. */
async function logs(cmd: ComposeCommand, io: CliIO): Promise<number> {
  const p = project(cmd, io);
  const targets = await projectContainers(p.name, io, cmd.services);
  if (!targets.length) {
    throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `project ${p.name} has no containers${cmd.services.length ? ` of ${cmd.services.join(', ')}` : ''}`, { hint: `start it with \`slipway compose -p ${p.name} up -d\`; see \`slipway compose -p ${p.name} ps -a\`` });
  }
  const width = Math.max(...targets.map((t) => keyOf(t.description).length));
  const one = async (t: ProjectContainer): Promise<void> => {
    const prefix = `${keyOf(t.description).padEnd(width)} | `;
    if (t.socket === undefined) {
      for await (const line of engineContainerLogs(t.description.id, { follow: cmd.follow, tail: cmd.tail })) {
        await write(line.stream === 'stderr' ? io.stderr : io.stdout, `${prefix}${line.text}\n`);
      }
      return;
    }
    const located = t as LocatedContainer;
    let finished = !cmd.follow || t.description.state === 'exited';
    if (!finished) void waitForExit(located).then(() => { finished = true; });
    for await (const line of readLogLines(t.description.logPath, { follow: cmd.follow, tail: cmd.tail, done: () => finished })) {
      await write(line.stream === 'stderr' ? io.stderr : io.stdout, `${prefix}${line.text}${line.cut ? '' : '\n'}`);
    }
  };
  if (cmd.follow) await Promise.all(targets.map(one));
  else for (const t of targets) await one(t);
  return 0;
}

/** `exec`: a command in a service's container (--index: which replica); exits with the command's status. */
async function exec(cmd: ComposeCommand, io: CliIO): Promise<number> {
  const p = project(cmd, io);
  const service = cmd.services[0]!;
  const all = await projectContainers(p.name, io, [service]);
  const target = all.find((c) => Number(c.description.labels?.[NUMBER_LABEL] ?? 1) === cmd.index);
  if (!target) {
    throw new SlipwayError('ERR_CONTAINER_NOT_FOUND', `project ${p.name} has no container ${service}-${cmd.index}`, {
      hint: all.length ? `${service} has ${all.map((c) => keyOf(c.description)).join(', ')}` : `see \`slipway compose -p ${p.name} ps\``,
    });
  }
  if (target.description.state !== 'running') {
    throw new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${target.description.name} is not running`, { hint: `its output: \`slipway compose -p ${p.name} logs ${service}\`` });
  }
  const opts = {
    env: cmd.env, user: cmd.user, workdir: cmd.workdir,
    stdin: io.stdin && !io.stdin.isTTY ? (io.stdin as AsyncIterable<Uint8Array>) : undefined,
    onStdout: (b: Buffer) => { io.stdout.write(b); },
    onStderr: (b: Buffer) => { io.stderr.write(b); },
  };
  const exit = target.socket === undefined ? await engineContainerExec(target.description.id, cmd.args, opts) : await execInContainer(target as LocatedContainer, cmd.args, opts);
  if (exit.error) io.stderr.write(`slipway: ${exit.error.message}\n`);
  return exitStatus(exit);
}
