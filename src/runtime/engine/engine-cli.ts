/**
 * What the CLI does to another process's container on an engine (`slipway logs/exec/rm/inspect` and `slipway compose
 * logs/exec` on what `ps` lists): the engine serves every container by id, so no owner process is asked (natively the
 * owner's control socket answers).
 */
import type { Socket } from 'node:net';
import { SlipwayError } from '../../errors.js';
import { EngineClient, hasStatus, removalInProgress } from '../../engine/client.js';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import { Demuxer, demultiplex } from '../../engine/demux.js';

/** One output line of a container as the engine keeps it, with the time the engine received it. */
export interface EngineLogLine { stream: 'stdout' | 'stderr'; text: string; time: Date }

/** The container's output lines (`tail`: the last n; `since`: from that time on; `follow`: until it exits). */
export async function* engineLogLines(endpoint: EngineEndpoint, id: string, opts: { follow?: boolean; tail?: number; since?: Date }): AsyncGenerator<EngineLogLine> {
  const client = new EngineClient(endpoint);
  try {
    const { body } = await client.stream('GET', `/containers/${encodeURIComponent(id)}/logs`, {
      query: {
        follow: opts.follow ? 1 : 0, stdout: 1, stderr: 1, timestamps: 1, tail: opts.tail === undefined ? 'all' : opts.tail,
        ...(opts.since ? { since: (opts.since.getTime() / 1000).toFixed(3) } : {}),
      }, long: true,
    }).catch((err: unknown) => { throw gone(err, id); });
    const partial = { stdout: '', stderr: '' };
    // With timestamps=1 each line starts with the engine's RFC 3339 time (nanoseconds) and a space.
    const line = (stream: 'stdout' | 'stderr', raw: string): EngineLogLine => {
      const m = /^(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)) (.*)$/s.exec(raw);
      return m ? { stream, text: m[2]!, time: new Date(m[1]!) } : { stream, text: raw, time: new Date() };
    };
    for await (const f of demultiplex(body)) {
      if (f.stream !== 'stdout' && f.stream !== 'stderr') continue;
      const lines = (partial[f.stream] + f.data.toString('utf8')).split('\n');
      partial[f.stream] = lines.pop() ?? '';
      for (const text of lines) yield line(f.stream, text);
    }
    for (const s of ['stdout', 'stderr'] as const) if (partial[s]) yield line(s, partial[s]);
  } finally {
    await client.close();
  }
}

/** Removes the container (killing it first with `force`), as the native owner does for `slipway rm`. */
export async function engineRemove(endpoint: EngineEndpoint, id: string, name: string, force: boolean): Promise<void> {
  const client = new EngineClient(endpoint);
  try {
    await client.call('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: force ? 1 : 0, v: 1 } }).catch((err: unknown) => {
      if (removalInProgress(err)) return; // its owner is removing it too (it exited): gone either way
      if (hasStatus(err, 409) && !force) {
        throw new SlipwayError('ERR_CONTAINER_RUNNING', `container ${name} is running`, { cause: err, hint: 'stop it first, or remove it anyway with `slipway rm -f`' });
      }
      throw gone(err, id);
    });
  } finally {
    await client.close();
  }
}

/** What the engine's inspect adds to a listed container: the environment's names (never values), hostname, user, workdir, pid. */
export async function engineInspect(endpoint: EngineEndpoint, id: string): Promise<{ envNames: string[]; hostname: string; user: string; workdir: string; pid: number }> {
  const client = new EngineClient(endpoint);
  try {
    const c = await client.call<{ Config?: { Env?: string[] | null; Hostname?: string; User?: string; WorkingDir?: string }; State?: { Pid?: number } }>(
      'GET', `/containers/${encodeURIComponent(id)}/json`,
    ).catch((err: unknown) => { throw gone(err, id); });
    return {
      envNames: (c.Config?.Env ?? []).map((e) => e.split('=')[0]!), hostname: c.Config?.Hostname ?? '',
      user: c.Config?.User ?? '', workdir: c.Config?.WorkingDir ?? '', pid: c.State?.Pid ?? 0,
    };
  } finally {
    await client.close();
  }
}

/** Runs `argv` in the container, stdin streamed in, output to the callbacks; the exit as the engine reports it. */
export async function engineExec(
  endpoint: EngineEndpoint, id: string, argv: readonly string[],
  opts: { env?: Record<string, string>; user?: string; workdir?: string; stdin?: AsyncIterable<Uint8Array>; onStdout?(b: Buffer): void; onStderr?(b: Buffer): void },
): Promise<{ exitCode: number | null; signal: string | null; error?: SlipwayError }> {
  const client = new EngineClient(endpoint);
  let socket: Socket | undefined;
  try {
    const created = await client.call<{ Id: string }>('POST', `/containers/${encodeURIComponent(id)}/exec`, {
      body: {
        Cmd: argv, AttachStdout: true, AttachStderr: true, AttachStdin: opts.stdin !== undefined, Tty: false,
        Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`), User: opts.user ?? '', WorkingDir: opts.workdir ?? '',
      },
    }).catch((err: unknown) => { throw gone(err, id); });
    const hijacked = await client.hijack(`/exec/${created.Id}/start`, { Detach: false, Tty: false });
    socket = hijacked.socket;
    const s = socket;
    if (opts.stdin) {
      void (async () => {
        for await (const chunk of opts.stdin!) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
        s.end();
      })().catch(() => s.end());
    }
    const d = new Demuxer();
    // A command the engine's runtime cannot execute: its error is the first stdout frame and the exit 126. That frame
    // is held until the exit says which it was, so the CLI reports it as natively (127 not found, 126 not executable).
    let held: Buffer | undefined;
    let first = true;
    const take = (chunk: Buffer) => {
      for (const f of d.push(chunk)) {
        if (f.stream === 'stdout') {
          if (first && f.data.toString('utf8').startsWith('OCI runtime exec failed')) held = f.data;
          else opts.onStdout?.(f.data);
        } else if (f.stream === 'stderr') opts.onStderr?.(f.data);
        first = false;
      }
    };
    if (hijacked.head.length) take(hijacked.head);
    s.resume();
    for await (const chunk of s) take(chunk as Buffer);
    const info = await client.call<{ ExitCode: number | null }>('GET', `/exec/${created.Id}/json`);
    const code = info.ExitCode ?? -1;
    const failed = held && code === 126 ? /^OCI runtime exec failed: (.*)/s.exec(held.toString('utf8').trim()) : null;
    if (failed) {
      const notFound = /no such file|not found/.test(failed[1]!);
      return {
        exitCode: notFound ? 127 : 126, signal: null,
        error: new SlipwayError('ERR_RUNTIME', `exec ${argv[0]} in container ${id.slice(0, 12)}: ${notFound ? 'ENOENT' : /permission denied/.test(failed[1]!) ? 'EACCES' : 'EINVAL'} (${failed[1]})`, {
          hint: notFound ? 'the command was not found in the image: check the path and PATH' : 'the command could not be executed in the container',
        }),
      };
    }
    if (held) opts.onStdout?.(held);
    return { exitCode: code, signal: null };
  } finally {
    socket?.destroy();
    await client.close();
  }
}

function gone(err: unknown, id: string): unknown {
  if (hasStatus(err, 404)) return new SlipwayError('ERR_CONTAINER_NOT_FOUND', `container ${id.slice(0, 12)} is gone from the engine`, { cause: err, hint: 'see `slipway compose ps -a`' });
  if (hasStatus(err, 409)) return new SlipwayError('ERR_CONTAINER_NOT_RUNNING', `container ${id.slice(0, 12)} is not running`, { cause: err });
  return err;
}
