import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keeper } from '../../../src/runtime/keeper/keeper.js';
import { SlipwayError } from '../../../src/errors.js';
import { busyboxRootfs, childrenOf, janitorsOf, removalSettled, runToExit, skipReason, specFor, until } from './fixture.js';

const skip = skipReason();
if (skip) console.warn(`keeper integration tests skipped: ${skip}`);

describe.skipIf(skip)('keeper: container lifecycle', () => {
  let keeper: Keeper;
  beforeAll(async () => {
    busyboxRootfs();
    keeper = await Keeper.start();
  });
  afterAll(async () => {
    await keeper?.close();
  });

  it('maps the user namespace and holds a state dir', () => {
    expect(keeper.mappingKey).toEqual(process.getuid!() === 0 ? 'root' : expect.stringMatching(/^(subid|single)-/));
    expect(statSync(keeper.stateDir).isDirectory()).toBe(true);
    expect(keeper.stateDir).toMatch(new RegExp(`keeper-${keeper.pid}$`));
  });

  it('runs a process and reports its exit code', async () => {
    const { exit, stdout } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', 'echo hello; exit 3']));
    expect(exit).toEqual({ exitCode: 3, signal: null });
    expect(stdout).toBe('hello');
  });

  it('reports a signal exit and forwards signals through init', async () => {
    const spec = specFor(keeper, ['sleep', '100']);
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    await keeper.kill(spec.id, 'SIGTERM');
    expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: null, signal: 'SIGTERM' });
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(existsSync(spec.stateDir)).toBe(false);
  });

  it('SIGKILL ends the whole container', async () => {
    const spec = specFor(keeper, ['/bin/sh', '-c', 'sleep 100 & sleep 100']);
    const { pid } = await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    await keeper.kill(spec.id, 'SIGKILL');
    expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: null, signal: 'SIGKILL' });
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    await keeper.removeContainer(spec.id);
  });

  it('isolates hostname and pids', async () => {
    const { stdout } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', 'hostname; ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "'], { hostname: 'isolated-box' }));
    const [host, pids] = stdout.split('\n');
    expect(host).toBe('isolated-box');
    const nums = pids!.trim().split(' ').map(Number);
    expect(nums[0]).toBe(1);
    expect(Math.max(...nums)).toBeLessThan(20);
    expect(nums).not.toContain(process.pid);
  });

  it('gives isolated containers their own network namespace with lo up, host mode the host\'s', async () => {
    const script = 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " " | sort | tr "\\n" " "; echo; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; grep " /sys " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1';
    const iso = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', script], { netMode: 'isolated' }));
    const [ifaces, , flags, sys] = iso.stdout.split('\n');
    expect(ifaces!.trim()).toBe('lo');
    expect(Number(flags) & 1).toBe(1); // IFF_UP
    expect(sys).toBe('sysfs ro');
    const host = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', script], { netMode: 'host' }));
    const hostIfaces = readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
    expect(host.stdout.split('\n')[0]!.trim().split(' ')).toEqual(hostIfaces);
    expect(host.stdout.split('\n').at(-1)).toMatch(/ ro$/);
  });

  it('masks and read-only paths, /dev and shm', async () => {
    const script = [
      'wc -c < /proc/keys',
      'echo x > /proc/sys/kernel/domainname && echo writable || echo readonly',
      'ls -l /dev/null | cut -c1',
      'grep -c " /dev/shm tmpfs" /proc/mounts',
      'grep " /sys " /proc/mounts | grep -c ro,',
      'readlink /dev/fd',
      'ls /sys/firmware | wc -l',
      'test -e /proc/timer_list && wc -c < /proc/timer_list',
    ].join('; ');
    const { stdout, exit } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', script]));
    expect(exit.exitCode).toBe(0);
    expect(stdout.split('\n')).toEqual(['0', 'readonly', 'c', '1', '1', '/proc/self/fd', '0', '0']);
  });

  it('writes to the upper dir, never to the lower layer', async () => {
    const spec = specFor(keeper, ['/bin/sh', '-c', 'echo data > /etc/new-file && rm /bin/vi']);
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    expect((await keeper.waitContainer(spec.id)).exitCode).toBe(0);
    expect(readFileSync(join(spec.upperDir!, 'etc', 'new-file'), 'utf8')).toBe('data\n');
    expect(existsSync(join(busyboxRootfs(), 'etc', 'new-file'))).toBe(false);
    expect(existsSync(join(busyboxRootfs(), 'bin', 'vi'))).toBe(true);
    await keeper.removeContainer(spec.id);
  });

  it('applies bind, read-only bind, tmpfs and /etc file mounts', async () => {
    const spec0 = specFor(keeper, ['true']);
    const vol = join(spec0.stateDir, 'vol');
    mkdirSync(vol);
    writeFileSync(join(vol, 'in.txt'), 'from host\n');
    writeFileSync(join(spec0.stateDir, 'etc', 'hosts'), '127.0.0.1 localhost\n10.1.2.3 special\n');
    const spec = {
      ...spec0,
      argv: ['/bin/sh', '-c', 'cat /data/in.txt; echo out > /data/out.txt; touch /ro/x 2>/dev/null && echo rw || echo ro; grep " /scratch tmpfs" /proc/mounts | cut -d" " -f4; grep special /etc/hosts'],
      mounts: [
        { type: 'bind' as const, source: vol, target: '/data' },
        { type: 'bind' as const, source: vol, target: '/ro', readonly: true },
        { type: 'tmpfs' as const, target: '/scratch', size: 1024 * 1024, mode: 0o700 },
      ],
      etcFiles: { hosts: join(spec0.stateDir, 'etc', 'hosts'), hostname: join(spec0.stateDir, 'etc', 'hostname'), resolvConf: join(spec0.stateDir, 'etc', 'resolv.conf') },
    };
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    expect((await keeper.waitContainer(spec.id)).exitCode).toBe(0);
    const out = readFileSync(spec.logPath!, 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^\S+ \S+ [FP] /, ''));
    expect(out[0]).toBe('from host');
    expect(out[1]).toBe('ro');
    expect(out[2]).toMatch(/size=1024k,mode=700/);
    expect(out[3]).toBe('10.1.2.3 special');
    expect(readFileSync(join(vol, 'out.txt'), 'utf8')).toBe('out\n');
    await keeper.removeContainer(spec.id);
  });

  it('never follows image symlinks out of the root when creating mount points', async () => {
    const base = join(keeper.stateDir, `evil-${Date.now()}`);
    const evil = join(base, 'layer');
    const hostDir = join(base, 'host-target');
    mkdirSync(evil, { recursive: true });
    mkdirSync(hostDir);
    const { symlinkSync } = await import('node:fs');
    symlinkSync(hostDir, join(evil, 'data')); // absolute symlink to a host path
    symlinkSync('../../../../../../..' + hostDir, join(evil, 'rel'));
    const src = join(base, 'src');
    mkdirSync(src);
    const spec = specFor(keeper, ['/bin/sh', '-c', `ls -d ${hostDir}/sub ${hostDir}/sub2`], {
      lowerDirs: [evil, busyboxRootfs()],
      mounts: [{ type: 'bind', source: src, target: '/data/sub' }, { type: 'tmpfs', target: '/rel/sub2' }],
    });
    // The dangling links are followed inside the root: the mount points appear at the link
    // targets within the container, and nothing is created on the host.
    const { exit, log } = await runToExit(keeper, spec);
    expect(exit.exitCode, log).toBe(0);
    expect(readdirSync(hostDir)).toEqual([]);
    await keeper.rmtree(base);
  });

  it('mounts many layers through relative overlay paths', async () => {
    const base = join(keeper.stateDir, `many-${'x'.repeat(60)}`);
    const lowers: string[] = [];
    for (let i = 0; i < 60; i++) {
      const d = join(base, `layer-${String(i).padStart(3, '0')}-${'y'.repeat(40)}`);
      mkdirSync(join(d, 'layers'), { recursive: true });
      writeFileSync(join(d, 'layers', `l${i}`), String(i));
      lowers.push(d);
    }
    expect(lowers.join(':').length).toBeGreaterThan(4096);
    const { stdout, exit } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', 'ls /layers | wc -l'], { lowerDirs: [...lowers, busyboxRootfs()] }));
    expect(exit.exitCode).toBe(0);
    expect(stdout).toBe('60');
    await keeper.rmtree(base);
  });

  it('runs as a non-root user with no capabilities left', async () => {
    const { stdout, exit } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', 'id -u; id -g; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status'], { uid: 1000, gid: 1000, groups: [1000] }));
    expect(exit.exitCode).toBe(0);
    expect(stdout.split('\n').map((l) => l.replace(/\s+/g, ' '))).toEqual(['1000', '1000', 'CapEff: 0000000000000000', 'NoNewPrivs: 1']);
  });

  it('gives root Docker\'s default capabilities', async () => {
    const { stdout } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', 'grep CapBnd /proc/self/status']));
    expect(stdout.replace(/\s+/g, ' ')).toBe('CapBnd: 00000000a80425fb');
  });

  it('reports exec failures as start errors with the stage, then exit 127', async () => {
    const spec = specFor(keeper, ['/no/such/binary']);
    await keeper.createContainer(spec);
    const err = await keeper.startContainer(spec.id).then(() => undefined, (e: unknown) => e);
    expect(SlipwayError.is(err, 'ERR_RUNTIME')).toBe(true);
    expect((err as SlipwayError).shortMessage).toBe('exec /no/such/binary: ENOENT (No such file or directory)');
    expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: 127, signal: null });
    await keeper.removeContainer(spec.id);
  });

  it('reports setup errors with stage and errno', async () => {
    const spec = specFor(keeper, ['true'], { mounts: [{ type: 'bind', source: '/nonexistent/source', target: '/x' }] });
    const err = await keeper.createContainer(spec).then(() => undefined, (e: unknown) => e);
    expect((err as SlipwayError).shortMessage).toBe('bind mount source /nonexistent/source: ENOENT (No such file or directory)');
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(existsSync(spec.stateDir)).toBe(false);
  });

  // Protocol 10: Node sends START right behind CREATE when nothing has to happen in between; the keeper holds it until
  // init reports CREATED (before, it was refused: "not in the created state").
  it('a START sent before CREATE\'s answer starts the container once it is created', async () => {
    const spec = specFor(keeper, ['/bin/sh', '-c', 'echo started; exit 4']);
    const created = keeper.createContainer(spec);
    const started = keeper.startContainer(spec.id);
    expect((await created).pid).toBeGreaterThan(0);
    await started;
    expect(await keeper.waitContainer(spec.id)).toEqual({ exitCode: 4, signal: null });
    expect(readFileSync(spec.logPath!, 'utf8')).toMatch(/ stdout F started\n/);
    // One START per container: a second one behind the same CREATE is refused, the first still runs it.
    const again = specFor(keeper, ['true']);
    const c2 = keeper.createContainer(again);
    const s1 = keeper.startContainer(again.id);
    const s2 = keeper.startContainer(again.id).then(() => undefined, (e: unknown) => e);
    await c2;
    await s1;
    expect((await s2 as SlipwayError).shortMessage).toMatch(/not in the created state/);
    expect(await keeper.waitContainer(again.id)).toEqual({ exitCode: 0, signal: null });
    await keeper.removeContainer(spec.id);
    await keeper.removeContainer(again.id);
  });

  it('a START queued behind a CREATE that fails fails too, and the exec error of one that runs is START\'s', async () => {
    const spec = specFor(keeper, ['true'], { mounts: [{ type: 'bind', source: '/nonexistent/source', target: '/x' }] });
    const created = keeper.createContainer(spec).then(() => undefined, (e: unknown) => e);
    const started = keeper.startContainer(spec.id).then(() => undefined, (e: unknown) => e);
    expect((await created as SlipwayError).shortMessage).toBe('bind mount source /nonexistent/source: ENOENT (No such file or directory)');
    expect(await started).toBeInstanceOf(SlipwayError);
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(existsSync(spec.stateDir)).toBe(false);
    const missing = specFor(keeper, ['/no/such/binary']);
    const c = keeper.createContainer(missing);
    const err = await keeper.startContainer(missing.id).then(() => undefined, (e: unknown) => e);
    await c;
    expect((err as SlipwayError).shortMessage).toBe('exec /no/such/binary: ENOENT (No such file or directory)');
    expect(await keeper.waitContainer(missing.id)).toEqual({ exitCode: 127, signal: null });
    await keeper.removeContainer(missing.id);
  });

  it('a REMOVE while a queued START waits behind CREATE fails the START, and the container is gone', async () => {
    const spec = specFor(keeper, ['sleep', '100']);
    const created = keeper.createContainer(spec).then(() => undefined, (e: unknown) => e);
    const started = keeper.startContainer(spec.id).then(() => undefined, (e: unknown) => e);
    await keeper.removeContainer(spec.id);
    await created;
    // Either the START was refused (CREATE had failed under the REMOVE) or it ran and the REMOVE killed it: never pending.
    const s = await started;
    if (s !== undefined) expect(s).toBeInstanceOf(SlipwayError);
    await removalSettled(keeper, spec.stateDir);
    expect(existsSync(spec.stateDir)).toBe(false);
    expect(childrenOf(keeper.pid)).toEqual([]);
  });

  // The keeper ignores SIGPIPE and an exec's worker catches SIGUSR1; forks reset only the signals the keeper changed.
  it('the container\'s process and an exec\'d one start with every signal default, none blocked', async () => {
    const sigs = (text: string) => text.split('\n').filter((l) => /^Sig(Blk|Ign|Cgt):/.test(l)).join(' ');
    const zero = 'SigBlk:\t0000000000000000 SigIgn:\t0000000000000000 SigCgt:\t0000000000000000';
    const spec = specFor(keeper, ['/bin/sh', '-c', 'cat /proc/self/status; sleep 100']);
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    const out: Buffer[] = [];
    const r = await keeper.exec(spec.id, { argv: ['cat', '/proc/self/status'], env: ['PATH=/bin'], uid: 0, gid: 0 }, { onStdout: (b) => out.push(b) });
    expect(r.exitCode).toBe(0);
    expect(sigs(Buffer.concat(out).toString())).toBe(zero);
    // The main process's `cat` may not have run yet when the exec is done (a loaded machine): killed before it, its
    // log was empty (rootless once at load 20).
    await until(() => readFileSync(spec.logPath!, 'utf8').includes('SigCgt'), 20_000);
    await keeper.kill(spec.id, 'SIGKILL');
    await keeper.waitContainer(spec.id); // the log holds all the process wrote once its exit is reported
    const log = readFileSync(spec.logPath!, 'utf8').split('\n').map((l) => l.replace(/^\S+ stdout [FP] /, '')).join('\n');
    await keeper.removeContainer(spec.id);
    expect(sigs(log)).toBe(zero);
  });

  it('reaps orphans: no zombies accumulate', async () => {
    const script = 'for i in 1 2 3 4 5 6; do (sleep 0.05 &); done; sleep 0.6; cat /proc/[0-9]*/stat | grep -c ") Z " || true';
    const { stdout } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', script]));
    expect(stdout).toBe('0');
  });

  it('logs in CRI format, with partial lines', async () => {
    const long = 'x'.repeat(20000);
    const { log } = await runToExit(keeper, specFor(keeper, ['/bin/sh', '-c', `echo one; echo two >&2; printf '${long}\\n'; printf tail`]));
    const lines = log.split('\n').filter(Boolean);
    const re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$/;
    for (const l of lines) expect(l).toMatch(re);
    const parsed = lines.map((l) => re.exec(l)!.slice(1));
    expect(parsed).toContainEqual(['stdout', 'F', 'one']);
    expect(parsed).toContainEqual(['stderr', 'F', 'two']);
    expect(parsed).toContainEqual(['stdout', 'P', 'x'.repeat(16384)]);
    expect(parsed).toContainEqual(['stdout', 'F', 'x'.repeat(20000 - 16384)]);
    expect(parsed.filter((p) => p[0] === 'stdout').at(-1)).toEqual(['stdout', 'P', 'tail']);
  });

  it('rotates the log file above logMaxBytes', async () => {
    const spec = specFor(keeper, ['/bin/sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done'], { logMaxBytes: 8192 });
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    await keeper.waitContainer(spec.id);
    const cur = readFileSync(spec.logPath!, 'utf8');
    const old = readFileSync(`${spec.logPath}.1`, 'utf8');
    expect(cur.length).toBeLessThanOrEqual(8192);
    expect(old.length).toBeLessThanOrEqual(8192);
    expect(cur).toMatch(/line-299-/);
    await keeper.removeContainer(spec.id);
  });

  it('execs into a running container with output, stdin and exit code', async () => {
    const spec = specFor(keeper, ['sleep', '100'], { hostname: 'exec-box' });
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await keeper.exec(spec.id, { argv: ['/bin/sh', '-c', 'hostname; cat; echo oops >&2; ls /proc | grep -c "^[0-9]"; exit 5'], env: ['PATH=/bin'], uid: 0, gid: 0 },
      { onStdout: (b) => out.push(b), onStderr: (b) => err.push(b), stdin: Buffer.from('piped\n') });
    expect(r).toEqual({ exitCode: 5, signal: null });
    const lines = Buffer.concat(out).toString().trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['exec-box', 'piped']);
    expect(Number(lines[2])).toBeLessThan(10);
    expect(Buffer.concat(err).toString()).toBe('oops\n');
    const missing = await keeper.exec(spec.id, { argv: ['nope'], env: ['PATH=/bin'], uid: 0, gid: 0 }).then(() => undefined, (e: unknown) => e);
    expect((missing as SlipwayError).shortMessage).toMatch(/^exec nope: ENOENT/);
    const asUser = await keeper.exec(spec.id, { argv: ['/bin/sh', '-c', 'exit $(id -u | cut -c1-2)'], env: [], uid: 1000, gid: 1000, cwd: '/tmp' });
    expect(asUser.exitCode).toBe(10);
    await keeper.removeContainer(spec.id);
    await removalSettled(keeper, spec.stateDir);
    expect(childrenOf(keeper.pid)).toEqual([]);
  });

  it.skipIf(process.getuid!() !== 0 || !existsSync('/sys/fs/cgroup/pids'))('puts exec\'d processes into the container\'s cgroups', async () => {
    const spec = specFor(keeper, ['sleep', '100']);
    const { pid } = await keeper.createContainer(spec);
    const cg = `/sys/fs/cgroup/pids/slipway-keeper-test-${process.pid}`;
    mkdirSync(cg, { recursive: true });
    try {
      writeFileSync(`${cg}/cgroup.procs`, String(pid));
      await keeper.startContainer(spec.id);
      const out: Buffer[] = [];
      await keeper.exec(spec.id, { argv: ['cat', '/proc/self/cgroup'], env: ['PATH=/bin'], uid: 0, gid: 0 }, { onStdout: (b) => out.push(b) });
      // The container has its own cgroup namespace rooted at the keeper's cgroup: the exec'd process
      // must show the same pids cgroup as the container's main process.
      const execLine = Buffer.concat(out).toString().split('\n').find((l) => /:pids:/.test(l));
      const main: Buffer[] = [];
      await keeper.exec(spec.id, { argv: ['cat', '/proc/1/cgroup'], env: ['PATH=/bin'], uid: 0, gid: 0 }, { onStdout: (b) => main.push(b) });
      expect(execLine).toBe(Buffer.concat(main).toString().split('\n').find((l) => /:pids:/.test(l)));
      expect(readFileSync(`${cg}/cgroup.procs`, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(2);
    } finally {
      await keeper.removeContainer(spec.id);
      // rmdir fails (EBUSY) while a process is still in the cgroup: wait until it is empty, not a fixed 100 ms.
      for (let i = 0; i < 200 && readFileSync(`${cg}/cgroup.procs`, 'utf8').trim() !== ''; i++) await new Promise((r) => setTimeout(r, 50));
      const { rmdirSync } = await import('node:fs');
      rmdirSync(cg);
    }
  });

  it('copies files in and out of a running container', async () => {
    const spec = specFor(keeper, ['sleep', '100']);
    await keeper.createContainer(spec);
    await keeper.startContainer(spec.id);
    await keeper.putFiles(spec.id, [
      { path: '/opt/app', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
      { path: '/opt/app/conf.txt', type: 'file', mode: 0o640, uid: 1000, gid: 1000, content: Buffer.from('key=value\n'), mtime: new Date(1_700_000_000_000) },
      { path: '/opt/app/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: 'conf.txt' },
    ]);
    const out: Buffer[] = [];
    await keeper.exec(spec.id, { argv: ['/bin/sh', '-c', 'stat -c "%a %u %g %Y" /opt/app/conf.txt; cat /opt/app/link'], env: ['PATH=/bin'], uid: 0, gid: 0 }, { onStdout: (b) => out.push(b) });
    expect(Buffer.concat(out).toString()).toBe('640 1000 1000 1700000000\nkey=value\n');
    const got = [];
    for await (const e of keeper.getFiles(spec.id, '/opt/app')) got.push(e);
    got.sort((a, b) => a.path.localeCompare(b.path));
    expect(got.map((e) => [e.path, e.type, e.mode.toString(8), e.uid])).toEqual([
      ['/opt/app', 'directory', '750', 1000], ['/opt/app/conf.txt', 'file', '640', 1000], ['/opt/app/link', 'symlink', '777', 0],
    ]);
    expect(got[1]!.content!.toString()).toBe('key=value\n');
    expect(got[2]!.linkTarget).toBe('conf.txt');
    await keeper.removeContainer(spec.id);
  });

  it('rejects start of an unknown container and removes idempotently', async () => {
    await expect(keeper.startContainer('missing')).rejects.toThrow(/no such container/);
    await keeper.removeContainer('missing');
    await keeper.removeContainer('missing');
  });

  it('survives 50 create/start/remove cycles without leaking processes, fds, mounts or dirs', async () => {
    // The spare network namespace of network mode none (keeper.c none_pool) is there or being made: at most one
    // network namespace of no container's, counted apart.
    const links = () => readdirSync(`/proc/${keeper.pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${keeper.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    const fds = () => links().filter((l) => !/^net:\[/.test(l)).length;
    const netns = () => links().filter((l) => /^net:\[/.test(l)).length;
    // The keeper's mount namespace is the host's, shared with whatever else runs on the machine:
    // count only mounts that involve this keeper's state dir (a leak would show up there).
    const mounts = () => readFileSync(`/proc/${keeper.pid}/mountinfo`, 'utf8').split('\n').filter((l) => l.includes(keeper.stateDir)).length;
    // A round trip first: right after start the keeper compiles its seccomp profile with a memfd open.
    await keeper.unpublish(0);
    await removalSettled(keeper); // an earlier test's removal may still be deleting its dir
    const before = { fds: fds(), mounts: mounts(), dirs: readdirSync(keeper.stateDir).length };
    const janitors = janitorsOf(keeper.pid);
    let last = '';
    for (let i = 0; i < 50; i++) {
      const spec = specFor(keeper, i % 2 ? ['true'] : ['sleep', '100']);
      await keeper.createContainer(spec);
      await keeper.startContainer(spec.id);
      if (i % 2) await keeper.waitContainer(spec.id);
      await keeper.removeContainer(spec.id);
      last = spec.stateDir;
    }
    await removalSettled(keeper, last);
    expect({ fds: fds(), mounts: mounts(), dirs: readdirSync(keeper.stateDir).length }).toEqual(before);
    expect(netns()).toBeLessThanOrEqual(1);
    expect(childrenOf(keeper.pid)).toEqual([]);
    // The cleanup of 50 removals ran in the same long-lived janitors (no fork per container).
    expect(janitorsOf(keeper.pid)).toEqual(janitors);
  });
});
