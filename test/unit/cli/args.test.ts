import { describe, expect, it } from 'vitest';
import { COMMANDS, parseCommandLine, parsePublish, parseEnv, parseSince, UsageError, type RunCommand } from '../../../src/cli/args.js';
import { usage } from '../../../src/cli/usage.js';

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv, {});
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('slipway run arguments', () => {
  it('stops options at the image: the command keeps its own dashes', () => {
    const cmd = parseCommandLine(['run', '--rm', '-e', 'A=1', '-eB=x=y', '--memory=128m', 'busybox', 'sh', '-c', 'echo hi; exit 3', '-p', '1'], {}) as RunCommand;
    expect(cmd).toMatchObject({ command: 'run', ref: 'busybox', rm: true, env: { A: '1', B: 'x=y' }, memory: '128m', args: ['sh', '-c', 'echo hi; exit 3', '-p', '1'], publish: [] });
  });

  it('collects repeated -p and the other options', () => {
    const cmd = parseCommandLine(['run', '-p', '8080', '-p', '9000:80', '-p', '0.0.0.0:53:53/udp', '--cpus', '0.5', '--user', 'app', '--workdir', '/srv',
      '--network', 'none', '--entrypoint', '/bin/sh', '--stop-timeout', '2', 'img:1'], {}) as RunCommand;
    expect(cmd.publish).toEqual([
      { container: 8080, protocol: 'tcp', host: 0, hostIp: '127.0.0.1' },
      { container: 80, protocol: 'tcp', host: 9000, hostIp: '127.0.0.1' },
      { container: 53, protocol: 'udp', host: 53, hostIp: '0.0.0.0' },
    ]);
    expect(cmd).toMatchObject({ cpus: '0.5', user: 'app', workdir: '/srv', network: 'none', entrypoint: '/bin/sh', stopTimeout: 2, ref: 'img:1', args: [] });
  });

  it('`--` ends the options even before an image that looks like one', () => {
    const cmd = parseCommandLine(['run', '--', 'busybox', '--help'], {}) as RunCommand;
    expect(cmd).toMatchObject({ ref: 'busybox', args: ['--help'] });
  });

  it('-e NAME passes the variable through from the environment, and skips it when unset', () => {
    expect(parseEnv(['HOME', 'MISSING', 'X='], { HOME: '/root' })).toEqual({ HOME: '/root', X: '' });
  });

  it.each([
    [['run'], /needs an image reference/, /slipway run --rm busybox/],
    [['run', '--network', 'bridge', 'busybox'], /invalid --network "bridge"/, /isolated.*none.*host/],
    [['run', '--frobnicate', 'busybox'], /unknown option --frobnicate/, /slipway help run/],
    [['run', '-p', '70000', 'busybox'], /container port must be between 1 and 65535/, /-p \[hostIp:\]/],
    [['run', '-p', 'abc', 'busybox'], /invalid -p "abc"/, /-p 8080/],
    [['run', '--memory', 'lots', 'busybox'], /invalid --memory "lots"/, /128m/],
    [['run', '--cpus=-1', 'busybox'], /invalid --cpus "-1"/, /0\.5/],
    [['run', '--cpus', '-1', 'busybox'], /the value after --cpus starts with "-"/, /--cpus=<value>/],
    [['run', '-e', '-x', 'busybox'], /the value after -e starts with "-"/, /--env=<value>/],
    [['run', '--pull', 'sometimes', 'busybox'], /invalid --pull/, /missing/],
    [['run', '-e', '=x', 'busybox'], /invalid -e "=x"/, /NAME=value/],
    [['run', 'busy box'], /invalid image reference/, /redis:7/],
    [['run', 'busybox', '--memory'], null, null],
  ])('%j is rejected naming the problem and the fix', (argv, problem, fix) => {
    if (problem === null) {
      // after the image, `--memory` is the container's command, not an option
      expect(parseCommandLine(argv, {})).toMatchObject({ ref: 'busybox', args: ['--memory'] });
      return;
    }
    const e = usageError(argv);
    expect(e.message).toMatch(problem);
    expect(e.fix).toMatch(fix!);
  });

  it('--memory without a value says it needs one', () => {
    const e = usageError(['run', '--memory']);
    expect(e.message).toMatch(/--memory needs a value/);
  });

  it('run --help is help for run', () => {
    expect(parseCommandLine(['run', '--help', 'busybox'], {})).toEqual({ command: 'help', topic: 'run' });
  });
});

describe('-p parsing', () => {
  it('accepts an empty host port (free port on that address)', () => {
    expect(parsePublish('127.0.0.2::80')).toEqual({ container: 80, protocol: 'tcp', host: 0, hostIp: '127.0.0.2' });
  });
  it('rejects addresses that are not IPv4', () => {
    expect(() => parsePublish('300.1.1.1:80:80')).toThrow(/not an IPv4 address/);
  });
});

describe('other commands', () => {
  it('pull takes one reference, --platform and --policy', () => {
    expect(parseCommandLine(['pull', '--platform', 'linux/arm64', '--policy', 'missing', 'redis:7'], {}))
      .toEqual({ command: 'pull', ref: 'redis:7', platform: 'linux/arm64', policy: 'missing' });
    expect(parseCommandLine(['pull', 'redis:7'], {})).toMatchObject({ policy: 'always' });
    expect(usageError(['pull', 'a', 'b']).message).toMatch(/takes one image, got 2/);
    expect(usageError(['pull', '--policy', 'never', 'a']).fix).toMatch(/always.*missing/);
    expect(usageError(['pull', '--platform', 'amd64', 'a']).fix).toMatch(/os\/arch/);
  });

  it('pull --timeout takes seconds', () => {
    expect(parseCommandLine(['pull', '--timeout', '2.5', 'redis:7'], {})).toMatchObject({ ref: 'redis:7', timeout: 2500 });
    expect(parseCommandLine(['pull', 'redis:7'], {})).not.toHaveProperty('timeout');
    for (const bad of ['0', '--timeout=-1', 'soon', '']) expect(usageError(['pull', ...(bad.startsWith('--') ? [bad] : ['--timeout', bad]), 'a']).fix).toBe('give seconds, e.g. --timeout 300');
  });

  it('images, prune, help and version', () => {
    expect(parseCommandLine(['images'], {})).toEqual({ command: 'images', json: false });
    expect(parseCommandLine(['images', '--json'], {})).toEqual({ command: 'images', json: true });
    expect(parseCommandLine(['prune', '--all', '--dry-run'], {})).toEqual({ command: 'prune', all: true, dryRun: true });
    expect(parseCommandLine(['prune'], {})).toEqual({ command: 'prune', all: false, dryRun: false });
    expect(parseCommandLine(['--version'], {})).toEqual({ command: 'version' });
    expect(parseCommandLine([], {})).toEqual({ command: 'help' });
    expect(parseCommandLine(['help', 'pull'], {})).toEqual({ command: 'help', topic: 'pull' });
    expect(usageError(['prune', 'x']).message).toMatch(/takes no arguments/);
    expect(usageError(['help', 'frob']).message).toMatch(/no help for "frob"/);
  });

  it('ps, logs, exec, rm and inspect', () => {
    expect(parseCommandLine(['ps', '-a', '--json'], {})).toEqual({ command: 'ps', all: true, json: true, quiet: false });
    expect(parseCommandLine(['logs', '-f', '--tail', '5', 'db'], {})).toEqual({ command: 'logs', container: 'db', follow: true, tail: 5, timestamps: false });
    expect(parseCommandLine(['logs', '--tail', 'all', 'db'], {})).not.toHaveProperty('tail');
    expect(usageError(['logs', '--tail', '-1', 'db']).message).toMatch(/--tail/);
    expect(usageError(['logs']).message).toMatch(/needs a container/);
    // Options end at the container: the command keeps its own dashes.
    expect(parseCommandLine(['exec', '-it', '-e', 'A=1', 'db', 'ls', '-la', '--color'], {})).toEqual({
      command: 'exec', container: 'db', args: ['ls', '-la', '--color'], interactive: true, tty: true, env: { A: '1' }, user: undefined, workdir: undefined,
    });
    expect(usageError(['exec', 'db']).message).toMatch(/needs a command/);
    expect(parseCommandLine(['rm', '-f', 'a', 'b'], {})).toEqual({ command: 'rm', containers: ['a', 'b'], force: true });
    expect(usageError(['rm']).message).toMatch(/at least one container/);
    expect(parseCommandLine(['inspect', 'a'], {})).toEqual({ command: 'inspect', containers: ['a'] });
    for (const verb of ['ps', 'logs', 'exec', 'rm', 'inspect']) expect(parseCommandLine([verb, '--help'], {})).toEqual({ command: 'help', topic: verb });
  });

  it('--since takes a time, Unix seconds or a duration back from now', () => {
    const now = new Date('2026-12-04T12:00:00Z');
    expect(parseSince('10m', now).toISOString()).toBe('2026-12-04T11:50:00.000Z');
    expect(parseSince('1h30m', now).toISOString()).toBe('2026-12-04T10:30:00.000Z');
    expect(parseSince('2026-12-04T11:00:00Z', now).toISOString()).toBe('2026-12-04T11:00:00.000Z');
    expect(parseSince('1700000000', now).getTime()).toBe(1_700_000_000_000);
    expect(() => parseSince('yesterday', now)).toThrow(/invalid --since/);
  });

  it('every command has its own help, and the overview names it', () => {
    for (const c of COMMANDS) {
      if (c === 'help' || c === 'version') continue;
      expect(usage(c)).toMatch(new RegExp(`^Usage: slipway ${c}\\b`));
      expect(usage()).toMatch(new RegExp(`^  slipway ${c}\\b`, 'm'));
    }
  });

  it('an unknown command suggests the nearest one', () => {
    const e = usageError(['pul', 'x']);
    expect(e.message).toBe('unknown command "pul"');
    expect(e.fix).toMatch(/slipway pull/);
    expect(usageError(['--rm']).message).toMatch(/unknown option --rm/);
  });

  it("docker's run habits -it and -d each say what slipway does instead, with the user's image", () => {
    for (const argv of [['run', '--rm', '-it', 'busybox', 'sh'], ['run', '-i', 'busybox', 'sh'], ['run', '-ti', 'busybox', 'sh']]) {
      const e = usageError(argv);
      expect(e.message).toMatch(/cannot attach your stdin or a terminal/);
      expect(e.fix).toContain('`slipway run --name box busybox sleep infinity &`');
      expect(e.fix).toContain('`slipway exec -i box sh`');
    }
    expect(usageError(['run', '-it', 'redis:7', 'sh', '-c', "echo 'a b'"]).fix).toContain(`\`slipway exec -i box sh -c 'echo '\\''a b'\\'''\``);
    expect(usageError(['run', '-it', 'redis:7']).fix).toContain('`slipway exec -i box sh`');
    const d = usageError(['run', '-d', '-p', '6379', 'redis:7']);
    expect(d.message).toMatch(/no -d\/--detach/);
    expect(d.fix).toContain('`slipway run --name box redis:7 &`');
    expect(d.fix).toContain('slipway rm -f box');
    // -t alone still runs (a warning says there is no terminal), as `slipway exec -t`.
    expect(parseCommandLine(['run', '-t', 'busybox', 'ls'], {})).toMatchObject({ command: 'run', tty: true, ref: 'busybox', args: ['ls'] });
    expect(parseCommandLine(['run', 'busybox', 'ls', '-it'], {})).toMatchObject({ tty: false, args: ['ls', '-it'] });
  });

  it('rmi takes images and an optional --platform, as docker rmi', () => {
    expect(parseCommandLine(['rmi', 'redis:7', 'busybox'], {})).toEqual({ command: 'rmi', refs: ['redis:7', 'busybox'] });
    expect(parseCommandLine(['rmi', '--platform', 'linux/arm64', 'redis:7'], {})).toEqual({ command: 'rmi', refs: ['redis:7'], platform: 'linux/arm64' });
    expect(usageError(['rmi']).message).toMatch(/needs at least one image/);
  });

  it("docker's commands slipway names differently point at slipway's", () => {
    const cases: [string[], string, RegExp][] = [
      [['stop', 'db'], 'unknown command "stop"', /`slipway rm -f <container>`/],
      [['kill', 'db'], 'unknown command "kill"', /`slipway rm -f <container>`/],
      [['load', '-i', 'app.tar'], 'unknown command "load"', /`slipway pull docker-archive:<file.tar>`/],
      [['image', 'load', '-i', 'app.tar'], 'unknown command "image load"', /`slipway pull docker-archive:<file.tar>`/],
      [['container', 'ls'], 'unknown command "container ls"', /use `slipway ps`/],
      [['image', 'ls'], 'unknown command "image ls"', /use `slipway images`/],
      [['image', 'rm', 'x'], 'unknown command "image rm"', /`slipway rmi <image>`/],
      [['container', 'top'], 'unknown command "container"', /`slipway ps`, `slipway logs`/],
      [['start', 'db'], 'unknown command "start"', /`slipway run`/],
    ];
    for (const [argv, message, fix] of cases) {
      const e = usageError(argv);
      expect(e.message).toBe(message);
      expect(e.fix).toMatch(fix);
      expect(e.fix).not.toMatch(/did you mean/);
    }
  });
});
