// Docker and Podman with their stores on a disk of the bench's choosing (scenario 1's fresh disks), so every
// tool's pull writes to the same kind of disk. The machine's own dockerd is shared with other work (test helpers,
// CI's engine pass): it is never touched. A second dockerd gets its own socket, exec root, pidfile and data root,
// and a bridge of its own (a dockerd started with `--bridge none` deletes the host's docker0, which the main
// dockerd's containers need), no iptables rules and no userland proxy. Podman takes `--root`/`--runroot` per call.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unmountBelow } from './disk.mjs';
import { sh, sleep } from './proc.mjs';

let bridgeSeq = 0;

/**
 * Starts a dockerd whose data root is `dataRoot` and whose run-time state (socket, exec root, pidfile, log) lives in
 * `runDir`; resolves when it answers. Not timed by the caller. Returns the docker CLI's `-H` value and `stop()`
 * (SIGTERM, SIGKILL after 20 s, then unmounts what it left under both dirs and removes its bridge).
 */
export async function startSideDockerd(dataRoot, runDir) {
  mkdirSync(dataRoot, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const sock = join(runDir, 'docker.sock');
  const host = `unix://${sock}`;
  const bridge = `swbench${process.pid % 1000}x${bridgeSeq++ % 100}`.slice(0, 15);
  const subnet = `10.214.${(process.pid + bridgeSeq) % 250}`;
  await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
  await sh('ip', ['link', 'set', bridge, 'up']);
  const logFd = openSync(join(runDir, 'dockerd.log'), 'a');
  const child = spawn('dockerd', [
    '--host', host, '--data-root', dataRoot, '--exec-root', join(runDir, 'exec'), '--pidfile', join(runDir, 'dockerd.pid'),
    '--bridge', bridge, '--iptables=false', '--ip-masq=false', '--userland-proxy=false',
  ], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited = false;
  child.on('exit', () => { exited = true; });
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await once(child, 'exit').catch(() => {});
      clearTimeout(t);
    }
    await unmountBelow(runDir);
    await unmountBelow(dataRoot);
    await sh('ip', ['link', 'del', bridge], { allowFail: true });
  };
  const t0 = Date.now();
  for (;;) {
    const r = await sh('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: 10_000 });
    if (r.code === 0) break;
    if (exited || Date.now() - t0 > 60_000) {
      await stop();
      const log = readFileSync(join(runDir, 'dockerd.log'), 'utf8').trim().split('\n').slice(-5).join(' | ');
      throw new Error(`the bench's own dockerd (data root ${dataRoot}) did not answer: ${log}`);
    }
    await sleep(100);
  }
  return { host, stop };
}

/**
 * Podman's global options for a store at `root` (graph root on the disk under test, run root in `runDir`), after
 * one untimed call that makes the store (driver checks, database) so the timed pull does only the pull.
 */
export async function sidePodman(root, runDir) {
  mkdirSync(root, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const args = ['--root', root, '--runroot', join(runDir, 'run'), '--tmpdir', join(runDir, 'tmp')];
  await sh('podman', [...args, 'images', '-q']);
  return args;
}
