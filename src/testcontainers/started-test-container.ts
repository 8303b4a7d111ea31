/** testcontainers' `StartedTestContainer` over slipway's {@link StartedContainer}. */
import { Readable } from 'node:stream';
import type { StartedContainer } from '../api/started-container.js';

/** testcontainers' started container. */
export class StartedTestContainer implements AsyncDisposable {
  constructor(private readonly inner: StartedContainer) {}
  getHost(): string { return this.inner.host; }
  getMappedPort(port: number | string): number { return this.inner.getMappedPort(port); }
  getFirstMappedPort(): number { return this.inner.getFirstMappedPort(); }
  getId(): string { return this.inner.id; }
  getName(): string { return this.inner.name; }
  /** Also exposes slipway's own handle. */
  get slipway(): StartedContainer { return this.inner; }
  async exec(command: string | string[], opts: { env?: Record<string, string>; user?: string; workingDir?: string } = {}) {
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
    const r = await this.inner.exec(argv, { env: opts.env, user: opts.user, workdir: opts.workingDir });
    return { output: r.stdout + r.stderr, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? 128 };
  }
  /** Follows the logs as a Readable of lines, as testcontainers does. */
  async logs(opts: { since?: number; tail?: number } = {}): Promise<Readable> {
    const since = opts.since ? new Date(opts.since * 1000) : undefined;
    const lines = this.inner.logs({ follow: true, since });
    return Readable.from((async function* () { for await (const l of lines) yield `${l}\n`; })());
  }
  async copyContentToContainer(items: { content: string | Buffer; target: string; mode?: number }[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(Buffer.from(i.content), i.target, { mode: i.mode });
  }
  async copyFilesToContainer(items: { source: string; target: string; mode?: number }[]): Promise<void> {
    for (const i of items) await this.inner.copyTo(i.source, i.target, { mode: i.mode });
  }
  async copyArchiveFromContainer(path: string): Promise<Readable> { return (await this.inner.copyFrom(path)) as Readable; }
  async restart(opts: { timeout?: number } = {}): Promise<void> { await this.inner.restart(opts); }
  async stop(opts: { timeout?: number; remove?: boolean } = {}) {
    await this.inner.stop(opts);
    if (opts.remove !== false) await this.inner.remove();
    return this;
  }
  async [Symbol.asyncDispose](): Promise<void> { await this.inner.remove(); }
}
