/**
 * `slipway ps / logs / exec / rm / inspect` from other processes than the `slipway run` that owns the container,
 * as a user does in a second shell; and another user's containers stay out of reach.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { engineRuntime, fixtureRef, hasCommand, helperBuilt, isRoot, nativeOnly, skipUnless, testUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli, cliArgs, until, viteNodeScript, type Finished } from './harness.js';

const SECRET = 'hunter2-secret-value';
// The pause orders the two lines on the engine too: Docker copies stdout and stderr separately, so lines written
// microseconds apart may be logged in either order (natively the keeper reads both in one loop).
const SCRIPT = 'echo line1; sleep 0.2; echo line2 >&2; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done';

interface Described { id: string; name: string; state: string; envNames: string[]; stateDir: string; exit?: { exitCode: number | null; signal: string | null } }

let running: ReturnType<typeof cli> | undefined;
afterEach(async () => {
  running?.child.kill('SIGKILL');
  await running?.done;
  running = undefined;
});

/** `slipway run --name <name>` in the background, once its first line is out. */
async function runService(name: string): Promise<ReturnType<typeof cli>> {
  running = cli(['run', '--name', name, '-e', `SECRET=${SECRET}`, '-p', '8080', fixtureRef('busybox'), 'sh', '-c', SCRIPT]);
  const r = running;
  await until('the service to start', () => (r.out.stdout.includes('line1') && r.out.stderr.includes('line2') ? true : r.child.exitCode !== null ? Promise.reject(new Error(`run exited: ${r.out.stderr}`)) : undefined));
  return r;
}

async function inspect(name: string): Promise<Described> {
  const r = await cli(['inspect', name]).done;
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Described[])[0]!;
}

const name = (): string => `cli-ctr-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

skipUnless(helperBuilt() && userNamespacesAllowed(), 'needs the built helper and user namespaces')('containers from another process', () => {
  it('ps lists a running container of another process (no env values), -q its id, --json its fields', async () => {
    const n = name();
    await runService(n);
    const table = await cli(['ps']).done;
    expect(table.code).toBe(0);
    const header = table.stdout.split('\n')[0]!;
    expect(header).toMatch(/^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES +OWNER$/);
    const row = table.stdout.split('\n').find((l) => l.includes(` ${n} `));
    expect(row).toMatch(/^[0-9a-f]{12} .*busybox.* Up \d+ seconds? .*127\.0\.0\.1:\d+->8080\/tcp/);
    expect(table.stdout).not.toContain(SECRET);

    const d = await inspect(n);
    expect(d.state).toBe('running');
    expect(d.envNames).toContain('SECRET');
    expect((await cli(['inspect', n]).done).stdout).not.toContain(SECRET);
    expect((await cli(['ps', '-q']).done).stdout.split('\n')).toContain(d.id.slice(0, 12));
    const json = (await cli(['ps', '--json']).done).stdout.trim().split('\n').map((l) => JSON.parse(l) as Described);
    expect(json.find((j) => j.name === n)).toMatchObject({ id: d.id, state: 'running' });
    expect(JSON.stringify(json)).not.toContain(SECRET);
  });

  it('exec runs in the container with its env, streams -i stdin, and exits with the command\'s status (127 not found, 125 no container)', async () => {
    const n = name();
    await runService(n);
    const r = await cli(['exec', n, 'sh', '-c', 'echo "$SECRET|$(hostname)"; echo to-err >&2; exit 7']).done;
    const d = await inspect(n);
    expect(r).toMatchObject({ code: 7, stdout: `${SECRET}|${d.id.slice(0, 12)}\n`, stderr: 'to-err\n' });

    const byId = await cli(['exec', '-e', 'X=1', '-w', '/tmp', '-u', '1234', d.id.slice(0, 8), 'sh', '-c', 'echo $X $(pwd) $(id -u)']).done;
    expect(byId).toMatchObject({ code: 0, stdout: '1 /tmp 1234\n' });

    const cat = cli(['exec', '-i', n, 'sh', '-c', 'tr a-z A-Z; echo done'], {}, { stdin: 'pipe' });
    cat.child.stdin!.write('hello\n');
    await until('the first line back', () => (cat.out.stdout.includes('HELLO') ? true : undefined));
    cat.child.stdin!.end('world\n');
    expect(await cat.done).toMatchObject({ code: 0, stdout: 'HELLO\nWORLD\ndone\n' });

    const missing = await cli(['exec', n, 'no-such-command']).done;
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/no-such-command.*ENOENT.*not found/);
    const notExecutable = await cli(['exec', n, '/etc/passwd']).done;
    expect(notExecutable.code).toBe(126);

    const tty = await cli(['exec', '-t', n, 'true']).done;
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/exec -t: no pseudo-terminal/);

    const none = await cli(['exec', 'no-such-container', 'true']).done;
    expect(none.code).toBe(125);
    expect(none.stderr).toMatch(/^slipway: ERR_CONTAINER_NOT_FOUND: no container named or with id "no-such-container"; fix: see `slipway ps`/);
  });

  it('logs: both streams, --tail, and -f follows until the container stops', async () => {
    const n = name();
    const run = await runService(n);
    const all = await cli(['logs', n]).done;
    expect(all).toMatchObject({ code: 0, stdout: 'line1\n', stderr: 'line2\n' });
    const tail = await cli(['logs', '--tail', '1', '-t', n]).done;
    expect(tail.stdout + tail.stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z line2\n$/);
    expect((await cli(['logs', '--since', '2099-01-01T00:00:00Z', n]).done).stdout).toBe('');

    const follow = cli(['logs', '-f', '--tail', '1', n]);
    await until('logs -f to print the last line', () => (follow.out.stderr === 'line2\n' ? true : undefined));
    run.child.kill('SIGINT'); // slipway run stops the service: it prints "bye" and exits
    const f: Finished = await follow.done;
    expect(f).toMatchObject({ code: 0, stdout: 'bye\n', stderr: 'line2\n' });
    expect((await run.done).code).toBe(130);
  });

  it('rm refuses a running container, rm -f kills and removes it (its run exits 137); ps no longer lists it', async () => {
    const n = name();
    const run = await runService(n);
    const refused = await cli(['rm', n]).done;
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/ERR_CONTAINER_RUNNING: container .* is running; fix: .*rm -f/);
    const removed = await cli(['rm', '-f', n]).done;
    expect(removed).toMatchObject({ code: 0, stdout: `${n}\n` });
    expect((await run.done).code).toBe(137);
    expect((await cli(['ps', '-a']).done).stdout).not.toContain(n);
    const again = await cli(['rm', n]).done;
    expect(again.code).toBe(125);
  });

  it('ps lists containers a library user started too, and reports a process that does not answer instead of hanging', async () => {
    // On the engine the engine lists every process's containers itself: a stopped owner changes nothing there.
    const engine = engineRuntime();
    const n = name();
    const [node, ...script] = viteNodeScript(join(import.meta.dirname, 'library-user.ts'));
    const lib = execFile(node!, [...script, fixtureRef('busybox'), n]);
    let out = '';
    lib.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await until('the script to start its container', () => (out.includes('started') ? true : undefined), 60_000);
      expect((await cli(['ps']).done).stdout).toMatch(new RegExp(` ${n} +${lib.pid} \\(`));
      lib.kill('SIGSTOP');
      const stuck = await cli(['ps', '-a']).done;
      expect(stuck.code).toBe(0);
      if (engine) {
        expect(stuck.stdout).toMatch(new RegExp(` ${n} +${lib.pid} \\(`));
        expect(stuck.stderr).toBe('');
      } else {
        expect(stuck.stdout).not.toContain(n);
        expect(stuck.stderr).toMatch(/a slipway process did not answer \(no answer within \d+ ms\)/);
      }
    } finally {
      lib.kill('SIGCONT');
      lib.kill('SIGKILL');
    }
  });

  // On the engine who reaches a container is the engine socket's business (root's: root and the docker group), not slipway's.
  (engineRuntime() ? nativeOnly('the engine\'s socket, not slipway\'s control sockets, decides who reaches its containers') : testUnless(isRoot() && hasCommand('setpriv') && hasCommand('/usr/bin/python3') && uidOf('slipway-test') !== undefined, 'needs root, setpriv, /usr/bin/python3 and the user slipway-test'))(
    'another user neither sees nor controls root\'s containers (ps, exec, rm, and the control socket itself)', async () => {
      const n = name();
      await runService(n);
      const d = await inspect(n);
      const uid = uidOf('slipway-test')!;
      const asOther = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
        execFile('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'env', '-u', 'XDG_RUNTIME_DIR', 'HOME=/tmp', ...args], { cwd: '/tmp' }, (err, stdout, stderr) => {
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
      const [node, ...rest] = cliArgs();
      const ps = await asOther([node!, ...rest, 'ps', '-a']);
      expect(ps.code, ps.stderr).toBe(0);
      expect(ps.stdout).not.toContain(n);
      expect((await asOther([node!, ...rest, 'exec', n, 'true'])).code).toBe(125);
      expect((await asOther([node!, ...rest, 'rm', '-f', d.id])).code).toBe(125);
      // Pointing the state dir at root's fails closed (not the user's own), rather than listing it.
      const pointed = await asOther(['SLIPWAY_STATE_DIR=' + dirname(dirname(d.stateDir)), node!, ...rest, 'ps', '-a']);
      expect(pointed.code).toBe(125);
      expect(pointed.stdout).not.toContain(n);
      expect(pointed.stderr).toMatch(/ERR_RUNTIME/);
      // The attacker goes for the socket directly.
      const socket = join(dirname(d.stateDir), 'control.sock');
      const probe = `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(${JSON.stringify(socket)})\n    print("connected")\nexcept OSError as e:\n    print(type(e).__name__)`;
      const direct = await asOther(['/usr/bin/python3', '-c', probe]);
      expect(direct.stdout.trim()).toBe('PermissionError');
      expect((await inspect(n)).state).toBe('running');
    });
});

function uidOf(user: string): number | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}
