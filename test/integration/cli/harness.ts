/** Runs the `slipway` CLI as a user does: its TypeScript entry through vite-node, in a pipe or in a terminal. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const viteNode = join(require.resolve('vite-node/package.json'), '..', 'vite-node.mjs');
const entry = join(import.meta.dirname, '..', '..', '..', 'src', 'cli.ts');

/** `[node, vite-node, entry, '--']`: the argv prefix that runs the CLI (for running it as another user). */
export function viteNodeArgs(): string[] {
  return [process.execPath, viteNode, entry, '--'];
}

export interface Finished { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `slipway <args>` with stdout/stderr piped (stdin closed unless `stdin` is 'pipe'). */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { stdin?: 'pipe' | 'ignore' } = {}): { child: ChildProcess; out: { stdout: string; stderr: string }; done: Promise<Finished> } {
  const child = spawn(process.execPath, [viteNode, entry, '--', ...args], { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out.stdout += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { out.stderr += s; });
  const done = new Promise<Finished>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...out })));
  return { child, out, done };
}

/** What a terminal showed (stdout and stderr together, `\r\n` line ends) and how the command ended. */
export interface TerminalRun { ok: boolean; output: string; code: number }

/**
 * Runs `slipway <args>` in a new pseudo-terminal (python3's pty module: the CLI is the terminal's foreground
 * process group, as under a shell) and, for each step, waits for `wait` in the output, then types `send`
 * (`\x03` is Ctrl-C: the terminal sends SIGINT to the whole foreground process group).
 */
export async function inTerminal(args: string[], steps: { wait: string; send: string; timeout?: number }[], env: NodeJS.ProcessEnv = {}): Promise<TerminalRun> {
  const spec = JSON.stringify({ argv: [process.execPath, viteNode, entry, '--', ...args], steps });
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('python3', [join(import.meta.dirname, 'pty-run.py'), spec], { env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
  return JSON.parse(stdout) as TerminalRun;
}

export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
