/**
 * Runs the `slipway` CLI as a user does, in a pipe or in a terminal: the built bin (`dist/esm/cli.js`, what
 * `npm run build` makes and the package's `bin` names) when it is newer than every file under `src/`, else the
 * TypeScript entry through vite-node. vite-node transforms every module on each start (`slipway info`: 1.8-2.2 s
 * against 0.33-0.37 s for the bin, load ~1.9 on 2 cores), which made a file of many CLI calls take minutes; CI builds
 * before it tests, and a tree edited since its build falls back to the sources, so a test never runs stale code.
 * `SLIPWAY_TEST_CLI=source|dist` forces one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const viteNode = join(require.resolve('vite-node/package.json'), '..', 'vite-node.mjs');
const root = join(import.meta.dirname, '..', '..', '..');
const entry = join(root, 'src', 'cli.ts');
const built = join(root, 'dist', 'esm', 'cli.js');

/** The newest modification time of a file under `dir` (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function useBuilt(): boolean {
  const forced = process.env.SLIPWAY_TEST_CLI;
  if (forced === 'source') return false;
  let bin: number;
  try {
    bin = statSync(built).mtimeMs;
  } catch {
    if (forced === 'dist') throw new Error(`SLIPWAY_TEST_CLI=dist but ${built} is missing: run npm run build`);
    return false;
  }
  return forced === 'dist' || bin >= newest(join(root, 'src'));
}

const prefix: string[] = useBuilt() ? [process.execPath, built] : [process.execPath, viteNode, entry, '--'];

/** The argv prefix that runs the CLI (`[node, bin]` or `[node, vite-node, entry, '--']`), for running it as another user. */
export function cliArgs(): string[] {
  return [...prefix];
}

/** `[node, vite-node, script, '--']`: runs a TypeScript script of the tests (no built form). */
export function viteNodeScript(script: string): string[] {
  return [process.execPath, viteNode, script, '--'];
}

export interface Finished { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `slipway <args>` with stdout/stderr piped (stdin closed unless `stdin` is 'pipe'). */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { stdin?: 'pipe' | 'ignore' } = {}): { child: ChildProcess; out: { stdout: string; stderr: string }; done: Promise<Finished> } {
  const child = spawn(prefix[0]!, [...prefix.slice(1), ...args], { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
  const spec = JSON.stringify({ argv: [...prefix, ...args], steps });
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
