/**
 * `slipway compose` as a user runs it: `up` in the foreground (prefixed output, Ctrl-C removes everything), `up -d`
 * owned by a detached slipway process, and `ps`, `logs`, `exec`, `down [-v]` from other processes finding the
 * project by name; named volumes kept by `down`, removed by `down -v`; `--env-file` and `--profile` carried to the
 * detached owner; `logs -f` following lines written after it started, until `down`. Redis is reached with ioredis.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { helperBuilt, registry, skipUnless, userNamespacesAllowed } from '../harness/index.js';
import { cli, until, type Finished } from './harness.js';

const FILE = join(import.meta.dirname, '../../fixtures/compose/cli/compose.yml');
const ENV_DIR = join(import.meta.dirname, '../../fixtures/compose/cli-env');
const projects: string[] = [];
afterAll(async () => {
  for (const p of projects) await compose(p, ['down', '-v']).catch(() => undefined);
  for (const p of envProjects) await envCompose(p, [], ['down', '-v']).catch(() => undefined);
});

function compose(project: string, args: string[]): Promise<Finished> {
  return cli(['compose', '-f', FILE, '-p', project, ...args], { REGISTRY: registry() }).done;
}

const envProjects: string[] = [];
function envCompose(project: string, global: string[], args: string[]): Promise<Finished> {
  return cli(['compose', '--project-directory', ENV_DIR, ...global, '-p', project, ...args], { REGISTRY: registry() }).done;
}

interface PsLine { name: string; service: string; number: number; state: string; ports: { container: number; hostPort: number }[] }
async function psJson(project: string, all = false): Promise<PsLine[]> {
  const r = await compose(project, ['ps', '--json', ...(all ? ['-a'] : [])]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PsLine);
}

async function ping(port: number): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await redis.ping();
  } finally {
    redis.disconnect();
  }
}

skipUnless(helperBuilt() && userNamespacesAllowed(), 'needs the built helper and user namespaces')('slipway compose', () => {
  it('up in the foreground: prefixed output; ps, logs and exec from other processes; Ctrl-C removes everything', async () => {
    const project = `cli-fg-${process.pid}`;
    projects.push(project);
    const upRun = cli(['compose', '-f', FILE, '-p', project, 'up'], { REGISTRY: registry() });
    await until('web to print', () => (/^web-1 +\| hello from web$/m.test(upRun.out.stdout) ? true : upRun.child.exitCode !== null ? Promise.reject(new Error(`up exited: ${upRun.out.stderr}`)) : undefined), 120_000);
    // Prefixes padded to the longest name, as docker compose does.
    expect(upRun.out.stdout).toContain('web-1   | hello from web\n');
    expect(upRun.out.stderr).toContain('web-1   | warning from web\n');
    expect(upRun.out.stderr).toMatch(/slipway: cache-1 started \(cli-fg-\d+-cache-1\), 6379\/tcp -> host port \d+/);

    const listed = await psJson(project);
    expect(listed.map((c) => [c.service, c.number, c.state])).toEqual([['cache', 1, 'running'], ['web', 1, 'running']]);
    const cachePort = listed[0]!.ports.find((x) => x.container === 6379)!.hostPort;
    expect(await ping(cachePort)).toBe('PONG');
    const table = await compose(project, ['ps']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME +SERVICE +STATUS +PORTS$/);
    expect(table.stdout).toMatch(new RegExp(`${project}-web-1 +web +running`));

    const exec = await compose(project, ['exec', 'cache', 'redis-cli', 'ping']);
    expect([exec.code, exec.stdout]).toEqual([0, 'PONG\n']);
    expect((await compose(project, ['exec', 'web', 'sh', '-c', 'exit 3'])).code).toBe(3);
    const noReplica = await compose(project, ['exec', '--index', '2', 'web', 'true']);
    expect(noReplica.code).toBe(125);
    expect(noReplica.stderr).toMatch(/no container web-2.*web has web-1/);

    const logs = await compose(project, ['logs', 'web']);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe('web-1 | hello from web\n');
    expect(logs.stderr).toBe('web-1 | warning from web\n');
    // Other projects' containers are not this project's.
    expect(await psJson(`${project}-other`)).toEqual([]);

    upRun.child.kill('SIGINT');
    const ended = await upRun.done;
    expect(ended.code, ended.stderr).toBe(130);
    expect(ended.stderr).toContain(`slipway: project ${project} removed`);
    expect(await psJson(project, true)).toEqual([]);
  }, 300_000);

  it('up -d returns with the project up, owned by a detached process; down keeps named volumes, down -v removes them', async () => {
    const project = `cli-bg-${process.pid}`;
    projects.push(project);
    const up = await compose(project, ['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(new RegExp(`project ${project} is up, owned by process \\d+`));
    expect((await psJson(project)).map((c) => c.service)).toEqual(['cache', 'web']);
    const again = await compose(project, ['up', '-d']);
    expect(again.code).toBe(125);
    expect(again.stderr).toMatch(/is already up .*fix: stop it first/s);
    expect((await compose(project, ['exec', 'web', 'sh', '-c', 'echo kept > /data/file'])).code).toBe(0);

    const down = await compose(project, ['down']);
    expect(down.code, down.stderr).toBe(0);

    // Up again (the old owner is gone, or this would be "already up"): the named volume kept its file.
    expect((await compose(project, ['up', '-d'])).code).toBe(0);
    const read = await compose(project, ['exec', 'web', 'cat', '/data/file']);
    expect([read.code, read.stdout]).toEqual([0, 'kept\n']);
    expect((await compose(project, ['down', '-v'])).code).toBe(0);

    expect((await compose(project, ['up', '-d'])).code).toBe(0);
    expect((await compose(project, ['exec', 'web', 'ls', '-A', '/data'])).stdout).toBe('');
    expect((await compose(project, ['down', '-v'])).code).toBe(0);
    const idle = await compose(project, ['down']);
    expect([idle.code, idle.stderr]).toEqual([0, `slipway: project ${project} is not up\n`]);
  }, 420_000);

  it('--env-file and --profile reach the detached owner; logs -f follows new lines until down', async () => {
    const project = `cli-env-${process.pid}`;
    envProjects.push(project);
    const up = await envCompose(project, ['--env-file', join(ENV_DIR, 'test.env'), '--profile', 'debug'], ['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
    const services = async () => (await envCompose(project, [], ['ps', '--json'])).stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as PsLine).service);
    expect(await services()).toEqual(['extra', 'talker']);
    expect((await envCompose(project, [], ['exec', 'talker', 'sh', '-c', 'echo $GREETING'])).stdout).toBe('from-env-file\n');

    const follow = cli(['compose', '--project-directory', ENV_DIR, '-p', project, 'logs', '-f', 'talker'], { REGISTRY: registry() });
    await until('logs -f to print the first line', () => (follow.out.stdout.includes('talker-1 | hello from-env-file\n') ? true : follow.child.exitCode !== null ? Promise.reject(new Error(`logs -f exited: ${follow.out.stderr}`)) : undefined), 60_000);
    // A line the service writes only now, after logs -f read what was there.
    expect((await envCompose(project, [], ['exec', 'talker', 'sh', '-c', 'echo said after follow > /tmp/say'])).code).toBe(0);
    await until('logs -f to print the new line', () => (follow.out.stdout.includes('talker-1 | said after follow\n') ? true : follow.child.exitCode !== null ? Promise.reject(new Error(`logs -f exited: ${follow.out.stderr}`)) : undefined), 60_000);
    expect(follow.child.exitCode).toBeNull();
    // The service ends (its last line is printed), and so does logs -f.
    expect((await envCompose(project, [], ['exec', 'talker', 'touch', '/tmp/stop'])).code).toBe(0);
    const followed = await follow.done;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toBe('talker-1 | hello from-env-file\ntalker-1 | said after follow\ntalker-1 | bye\n');
    expect((await envCompose(project, [], ['down'])).code).toBe(0);

    // Without the flags: .env's value, and the debug profile's service is not started.
    expect((await envCompose(project, [], ['up', '-d'])).code).toBe(0);
    expect(await services()).toEqual(['talker']);
    expect((await envCompose(project, [], ['logs', 'talker'])).stdout).toBe('talker-1 | hello from-dot-env\n');
    expect((await envCompose(project, [], ['down'])).code).toBe(0);
  }, 300_000);

  it('a project that cannot start: up -d fails with the service named and leaves nothing', async () => {
    const project = `cli-bad-${process.pid}`;
    const r = await cli(['compose', '-f', FILE, '-p', project, 'up', '-d'], { REGISTRY: '127.0.0.1:1' }).done;
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/ERR_COMPOSE_SERVICE|service cache/);
    expect(await psJson(project, true)).toEqual([]);
  }, 120_000);
});
