/**
 * What the CLI does to another process's container on an engine (`slipway compose logs/exec`): the engine serves
 * every container by id, so no owner process is asked (natively the owner's control socket answers).
 */
import type { Socket } from 'node:net';
import { SlipwayError } from '../../errors.js';
import { EngineClient, hasStatus } from '../../engine/client.js';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import { Demuxer, demultiplex } from '../../engine/demux.js';

/** One output line of a container as the engine keeps it. */
export interface EngineLogLine { stream: 'stdout' | 'stderr'; text: string }

/** The container's output lines (`tail`: the last n; `follow`: until it exits). */
export async function* engineLogLines(endpoint: EngineEndpoint, id: string, opts: { follow?: boolean; tail?: number }): AsyncGenerator<EngineLogLine> {
  const client = new EngineClient(endpoint);
  try {
    const { body } = await client.stream('GET', `/containers/${encodeURIComponent(id)}/logs`, {
      query: { follow: opts.follow ? 1 : 0, stdout: 1, stderr: 1, tail: opts.tail === undefined ? 'all' : opts.tail }, long: true,
    }).catch((err: unknown) => { throw gone(err, id); });
    const partial = { stdout: '', stderr: '' };
    for await (const f of demultiplex(body)) {
      if (f.stream !== 'stdout' && f.stream !== 'stderr') continue;
      const lines = (partial[f.stream] + f.data.toString('utf8')).split('\n');
      partial[f.stream] = lines.pop() ?? '';
      for (const text of lines) yield { stream: f.stream, text };
    }
    for (const s of ['stdout', 'stderr'] as const) if (partial[s]) yield { stream: s, text: partial[s] };
  } finally {
    await client.close();
  }
}

/** Runs `argv` in the container, stdin streamed in, output to the callbacks; the exit as the engine reports it. */
export async function engineExec(
  endpoint: EngineEndpoint, id: string, argv: readonly string[],
  opts: { env?: Record<string, string>; user?: string; workdir?: string; stdin?: AsyncIterable<Uint8Array>; onStdout?(b: Buffer): void; onStderr?(b: Buffer): void },
): Promise<{ exitCode: number | null; signal: string | null }> {
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
    const take = (chunk: Buffer) => {
      for (const f of d.push(chunk)) {
        if (f.stream === 'stdout') opts.onStdout?.(f.data);
        else if (f.stream === 'stderr') opts.onStderr?.(f.data);
      }
    };
    if (hijacked.head.length) take(hijacked.head);
    s.resume();
    for await (const chunk of s) take(chunk as Buffer);
    const info = await client.call<{ ExitCode: number | null }>('GET', `/exec/${created.Id}/json`);
    const code = info.ExitCode ?? -1;
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
