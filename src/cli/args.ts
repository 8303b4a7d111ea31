/**
 * Command-line parsing for `slipway`: turns argv into a typed command, or throws a {@link UsageError}
 * that names the problem and the fix. Nothing here touches the system.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseBuild, type BuildCommand } from './build-command.js';
import { parsePush, parseSave, type PushCommand, type SaveCommand } from './image-commands.js';
import { firstPositional, parseEnv } from './arg-tools.js';
import { parseCompose, type ComposeCommand } from './compose-args.js';
import { UsageError } from './usage-error.js';

/** A `-p` value: `[hostIp:][hostPort:]containerPort[/udp]`. */
export interface PublishSpec {
  container: number;
  protocol: 'tcp' | 'udp';
  /** 0: a free port chosen by the kernel. */
  host: number;
  hostIp: string;
}

export interface PullCommand {
  command: 'pull';
  ref: string;
  platform?: string;
  policy: 'always' | 'missing';
  /** Bound of the whole pull in ms (`--timeout` is in seconds); undefined: pull()'s default. */
  timeout?: number;
}

export interface RunCommand {
  command: 'run';
  ref: string;
  /** Replaces the image's Cmd when non-empty. */
  args: string[];
  rm: boolean;
  env: Record<string, string>;
  publish: PublishSpec[];
  memory?: string;
  cpus?: string;
  user?: string;
  workdir?: string;
  network?: 'none' | 'host' | 'isolated';
  entrypoint?: string;
  name?: string;
  platform?: string;
  pull?: 'always' | 'missing' | 'never';
  /** Seconds between the stop signal and SIGKILL on Ctrl-C. */
  stopTimeout: number;
  /** Signal Ctrl-C delivers first (default: the image's StopSignal, else SIGTERM). */
  stopSignal?: string;
  /** `-t`: asked for a terminal, which slipway cannot give (warned, the output still streams). */
  tty: boolean;
}

export interface PsCommand { command: 'ps'; all: boolean; json: boolean; quiet: boolean }
export interface LogsCommand {
  command: 'logs';
  container: string;
  follow: boolean;
  /** Last N lines only. */
  tail?: number;
  /** Only lines at or after this time. */
  since?: Date;
  timestamps: boolean;
}
export interface ExecCommand {
  command: 'exec';
  container: string;
  args: string[];
  interactive: boolean;
  tty: boolean;
  env: Record<string, string>;
  user?: string;
  workdir?: string;
}
export interface RmCommand { command: 'rm'; containers: string[]; force: boolean }
export interface InspectCommand { command: 'inspect'; containers: string[] }
export interface ImagesCommand { command: 'images'; json: boolean }
export interface RmiCommand { command: 'rmi'; refs: string[]; platform?: string }
export interface InfoCommand { command: 'info'; json: boolean }
export interface PruneCommand { command: 'prune'; all: boolean; dryRun: boolean }
export interface SnapshotsCommand { command: 'snapshots'; action: 'ls' | 'rm' | 'prune'; keys: string[]; json: boolean; all: boolean }
export interface HelpCommand { command: 'help'; topic?: string }
export interface VersionCommand { command: 'version' }

export type CliCommand = PullCommand | RunCommand | BuildCommand | ComposeCommand | SaveCommand | PushCommand | PsCommand | LogsCommand | ExecCommand | RmCommand | InspectCommand
  | ImagesCommand | RmiCommand | InfoCommand | PruneCommand | SnapshotsCommand | HelpCommand | VersionCommand;

export { UsageError, firstPositional, parseEnv };

/** The subcommands, for help and suggestions. */
export const COMMANDS = ['run', 'compose', 'ps', 'logs', 'exec', 'rm', 'inspect', 'pull', 'build', 'save', 'push', 'images', 'rmi', 'snapshots', 'info', 'prune', 'help', 'version'] as const;

const RUN_OPTIONS = {
  rm: { type: 'boolean' },
  env: { type: 'string', short: 'e', multiple: true },
  publish: { type: 'string', short: 'p', multiple: true },
  memory: { type: 'string', short: 'm' },
  cpus: { type: 'string' },
  user: { type: 'string', short: 'u' },
  workdir: { type: 'string', short: 'w' },
  network: { type: 'string' },
  entrypoint: { type: 'string' },
  name: { type: 'string' },
  platform: { type: 'string' },
  pull: { type: 'string' },
  'stop-timeout': { type: 'string' },
  'stop-signal': { type: 'string' },
  // Docker habits (`docker run -it`, `-d`): parsed so that each gets its own answer, not "unknown option".
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  detach: { type: 'boolean', short: 'd' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const EXEC_OPTIONS = {
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  env: { type: 'string', short: 'e', multiple: true },
  user: { type: 'string', short: 'u' },
  workdir: { type: 'string', short: 'w' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const LOGS_OPTIONS = {
  follow: { type: 'boolean', short: 'f' },
  tail: { type: 'string', short: 'n' },
  since: { type: 'string' },
  timestamps: { type: 'boolean', short: 't' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const PULL_OPTIONS = {
  platform: { type: 'string' },
  policy: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/**
 * Parses `slipway` arguments (without `node` and the script path).
 * @throws {@link UsageError} for unknown commands or options, missing or malformed values.
 * @example parseCommandLine(['run', '--rm', '-p', '8080', 'busybox', 'httpd', '-f'])
 */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined) return { command: 'help' };
  if (first === '--version' || first === '-v' || first === 'version') return { command: 'version' };
  if (first === '--help' || first === '-h' || first === 'help') return { command: 'help', topic: helpTopic(rest[0]) };
  switch (first) {
    case 'pull': return parsePull(rest);
    case 'run': return parseRun(rest, env);
    case 'build': return parseBuild(rest, env);
    case 'save': return parseSave(rest);
    case 'push': return parsePush(rest);
    case 'compose': return parseCompose(rest, env);
    case 'ps': return parseSimple('ps', rest, { all: { type: 'boolean', short: 'a' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } },
      (v) => ({ command: 'ps', all: !!v.all, json: !!v.json, quiet: !!v.quiet }));
    case 'logs': return parseLogs(rest);
    case 'exec': return parseExec(rest, env);
    case 'rm': {
      const { values, positionals } = strictParse('rm', rest, { force: { type: 'boolean', short: 'f' }, help: { type: 'boolean', short: 'h' } }, true);
      if (values.help) return { command: 'help', topic: 'rm' };
      if (!positionals.length) throw new UsageError('`slipway rm` needs at least one container', 'e.g. `slipway rm -f my-db` (names and ids: `slipway ps`)');
      return { command: 'rm', containers: positionals, force: !!values.force };
    }
    case 'inspect': {
      const { values, positionals } = strictParse('inspect', rest, { help: { type: 'boolean', short: 'h' } }, true);
      if (values.help) return { command: 'help', topic: 'inspect' };
      if (!positionals.length) throw new UsageError('`slipway inspect` needs at least one container', 'e.g. `slipway inspect my-db` (names and ids: `slipway ps`)');
      return { command: 'inspect', containers: positionals };
    }
    case 'images': return parseSimple('images', rest, { json: { type: 'boolean' } }, (v) => ({ command: 'images', json: !!v.json }));
    case 'rmi': {
      const { values, positionals } = strictParse('rmi', rest, { platform: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
      if (values.help) return { command: 'help', topic: 'rmi' };
      if (!positionals.length) throw new UsageError('`slipway rmi` needs at least one image', 'e.g. `slipway rmi busybox:1.36` (references: `slipway images`)');
      return { command: 'rmi', refs: positionals, ...(typeof values.platform === 'string' ? { platform: values.platform } : {}) };
    }
    case 'snapshots': {
      const { values, positionals } = strictParse('snapshots', rest, { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, all: { type: 'boolean', short: 'a' } }, true);
      if (values.help) return { command: 'help', topic: 'snapshots' };
      const [action = 'ls', ...keys] = positionals;
      if (action !== 'ls' && action !== 'rm' && action !== 'prune') throw new UsageError(`unknown \`slipway snapshots\` action "${action}"`, 'use ls, rm <key…> or prune (see `slipway help snapshots`)');
      if (action === 'rm' && keys.length === 0) throw new UsageError('`slipway snapshots rm` needs at least one key', 'the keys (or their first 12 hex digits) are listed by `slipway snapshots ls`');
      if (action !== 'rm' && keys.length) throw new UsageError(`\`slipway snapshots ${action}\` takes no arguments, got "${keys[0]}"`, `run \`slipway snapshots ${action}\` alone`);
      return { command: 'snapshots', action, keys, json: !!values.json, all: !!values.all };
    }
    case 'info': return parseSimple('info', rest, { json: { type: 'boolean' } }, (v) => ({ command: 'info', json: !!v.json }));
    case 'prune': return parseSimple('prune', rest, { all: { type: 'boolean', short: 'a' }, 'dry-run': { type: 'boolean' } },
      (v) => ({ command: 'prune', all: !!v.all, dryRun: !!v['dry-run'] }));
    default: {
      if (first.startsWith('-')) throw new UsageError(`unknown option ${first}`, 'put options after the command, e.g. `slipway run --rm busybox`; see `slipway help`');
      const docker = dockerEquivalent(first, rest[0]);
      if (docker) throw new UsageError(`unknown command "${docker.typed}"`, `${docker.fix} (see \`slipway help\`)`);
      const near = COMMANDS.find((c) => c.startsWith(first.slice(0, 2)));
      throw new UsageError(`unknown command "${first}"`, near ? `did you mean \`slipway ${near}\`? (see \`slipway help\`)` : `use one of ${COMMANDS.join(', ')} (see \`slipway help\`)`);
    }
  }
}

const STOP_FIX = '`slipway rm -f <container>` stops and removes it (a slipway container is not kept once stopped; its `slipway run` exits 137)';
const IMAGE_RM_FIX = '`slipway rmi <image>` removes an image\'s name, then `slipway prune` the store content no image needs';
/** Docker commands slipway has under another name (or not at all): what to type instead. */
const DOCKER_COMMANDS: Readonly<Record<string, string>> = {
  stop: STOP_FIX, kill: STOP_FIX,
  load: '`slipway pull docker-archive:<file.tar>` (or `oci-layout:<dir>`) loads an image from a file into the store, named as in the file',
  start: 'a slipway container is not kept once stopped: start a new one with `slipway run`',
  restart: 'a slipway container is not kept once stopped: `slipway rm -f` it and `slipway run` it again',
  attach: '`slipway logs -f <container>` follows its output; `slipway exec -i <container> <cmd>` runs a command in it',
};
const DOCKER_SUBCOMMANDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  container: { ls: 'ps', list: 'ps', ps: 'ps', logs: 'logs', exec: 'exec', rm: 'rm', inspect: 'inspect', run: 'run', stop: 'rm -f', kill: 'rm -f' },
  image: { ls: 'images', list: 'images', pull: 'pull', push: 'push', build: 'build', save: 'save', prune: 'prune', rm: 'rmi', load: 'pull docker-archive:<file.tar>' },
};

/** `docker stop`, `docker container ls`… typed to slipway: the slipway command that does it, if any. */
function dockerEquivalent(first: string, second: string | undefined): { typed: string; fix: string } | undefined {
  if (Object.hasOwn(DOCKER_COMMANDS, first)) return { typed: first, fix: DOCKER_COMMANDS[first]! };
  if (!Object.hasOwn(DOCKER_SUBCOMMANDS, first)) return undefined;
  const subs = DOCKER_SUBCOMMANDS[first]!;
  if (second !== undefined && Object.hasOwn(subs, second)) {
    const typed = `${first} ${second}`;
    if (first === 'image' && second === 'rm') return { typed, fix: IMAGE_RM_FIX };
    if (first === 'image' && second === 'load') return { typed, fix: DOCKER_COMMANDS.load! };
    return { typed, fix: `use \`slipway ${subs[second]!}\`` };
  }
  const cmds = [...new Set(Object.values(subs))].map((c) => `\`slipway ${c}\``).join(', ');
  return { typed: first, fix: `slipway has no \`${first}\` group: its ${first} commands are ${cmds}` };
}

function helpTopic(topic: string | undefined): string | undefined {
  if (topic === undefined) return undefined;
  if (!(COMMANDS as readonly string[]).includes(topic)) throw new UsageError(`no help for "${topic}"`, `use \`slipway help\` or \`slipway help <${COMMANDS.join('|')}>\``);
  return topic;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function parseSimple(command: string, args: readonly string[], options: ParseArgsConfig['options'], build: (v: Values) => CliCommand): CliCommand {
  const { values, positionals } = strictParse(command, args, { ...options, help: { type: 'boolean', short: 'h' } }, false);
  if (values.help) return { command: 'help', topic: command };
  if (positionals.length) throw new UsageError(`\`slipway ${command}\` takes no arguments, got "${positionals[0]}"`, `run \`slipway ${command}\` alone (see \`slipway help ${command}\`)`);
  return build(values);
}

function parsePull(args: readonly string[]): CliCommand {
  const { values, positionals } = strictParse('pull', args, PULL_OPTIONS, true);
  if (values.help) return { command: 'help', topic: 'pull' };
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length ? `\`slipway pull\` takes one image, got ${positionals.length}` : '`slipway pull` needs an image reference', 'e.g. `slipway pull redis:7`');
  }
  const policy = values.policy ?? 'always';
  if (policy !== 'always' && policy !== 'missing') throw new UsageError(`invalid --policy "${policy}"`, 'use --policy always (default) or --policy missing');
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    timeout = Number(values.timeout) * 1000;
    if (values.timeout.trim() === '' || !Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`invalid --timeout "${values.timeout}"`, 'give seconds, e.g. --timeout 300');
  }
  return { command: 'pull', ref: checkRef(positionals[0]!), platform: checkPlatform(values.platform), policy, ...(timeout !== undefined ? { timeout } : {}) };
}

function parseRun(args: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  // Options end at the image: everything after it is the container's command, dashes included.
  const split = firstPositional(args, RUN_OPTIONS);
  const { values, positionals } = strictParse('run', args.slice(0, split), RUN_OPTIONS, true);
  if (values.help) return { command: 'help', topic: 'run' };
  const rest = [...positionals, ...args.slice(split)];
  if (rest[0] === '--') rest.shift();
  const [ref, ...command] = rest;
  if (ref === undefined) throw new UsageError('`slipway run` needs an image reference', 'e.g. `slipway run --rm busybox echo hi`');
  if (values.detach) {
    throw new UsageError('`slipway run` has no -d/--detach: a container lives as long as the `slipway run` that started it',
      `run it in your shell's background: \`slipway run --name box ${ref}${command.length ? ' …' : ''} &\`; then \`slipway logs -f box\`, \`slipway exec box …\` and \`slipway rm -f box\` reach it`);
  }
  if (values.interactive) {
    throw new UsageError('`slipway run` cannot attach your stdin or a terminal to the container\'s main process (-i/-it)',
      `for a shell, keep the container running and exec into it: \`slipway run --name box ${ref} sleep infinity &\`, then \`slipway exec -i box ${command.length ? command.map(shellWord).join(' ') : 'sh'}\` (\`slipway rm -f box\` when done)`);
  }
  const network = values.network;
  if (network !== undefined && network !== 'none' && network !== 'host' && network !== 'isolated') {
    throw new UsageError(`invalid --network "${network}"`, 'use --network isolated (default), none or host');
  }
  const pull = values.pull;
  if (pull !== undefined && pull !== 'always' && pull !== 'missing' && pull !== 'never') {
    throw new UsageError(`invalid --pull "${pull}"`, 'use --pull missing (default), always or never');
  }
  let stopTimeout = 10;
  if (values['stop-timeout'] !== undefined) {
    stopTimeout = Number(values['stop-timeout']);
    if (!Number.isFinite(stopTimeout) || stopTimeout < 0) throw new UsageError(`invalid --stop-timeout "${values['stop-timeout']}"`, 'give seconds, e.g. --stop-timeout 5');
  }
  if (values.memory !== undefined && !/^\d+(\.\d+)?\s*[bkmgt]?i?b?$/i.test(values.memory)) {
    throw new UsageError(`invalid --memory "${values.memory}"`, 'give a size such as --memory 128m or --memory 1g');
  }
  if (values.cpus !== undefined && !(Number(values.cpus) > 0)) throw new UsageError(`invalid --cpus "${values.cpus}"`, 'give a positive number of CPUs, e.g. --cpus 0.5');
  if (values.entrypoint === '') throw new UsageError('empty --entrypoint', 'give a program, e.g. --entrypoint /bin/sh');
  return {
    command: 'run',
    ref: checkRef(ref),
    args: command,
    rm: !!values.rm,
    env: parseEnv(values.env ?? [], env),
    publish: (values.publish ?? []).map(parsePublish),
    memory: values.memory,
    cpus: values.cpus,
    user: values.user,
    workdir: values.workdir,
    network,
    entrypoint: values.entrypoint,
    name: values.name,
    platform: checkPlatform(values.platform),
    pull,
    stopTimeout,
    stopSignal: values['stop-signal'],
    tty: !!values.tty,
  };
}

function parseLogs(args: readonly string[]): CliCommand {
  const { values, positionals } = strictParse('logs', args, LOGS_OPTIONS, true);
  if (values.help) return { command: 'help', topic: 'logs' };
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length ? `\`slipway logs\` takes one container, got ${positionals.length}` : '`slipway logs` needs a container', 'e.g. `slipway logs -f my-db` (names and ids: `slipway ps`)');
  }
  let tail: number | undefined;
  if (values.tail !== undefined && values.tail !== 'all') {
    tail = Number(values.tail);
    if (!/^\d+$/.test(values.tail)) throw new UsageError(`invalid --tail "${values.tail}"`, 'give a number of lines, e.g. --tail 20 (or --tail all)');
  }
  return {
    command: 'logs', container: positionals[0]!, follow: !!values.follow, timestamps: !!values.timestamps,
    ...(tail !== undefined ? { tail } : {}),
    ...(values.since !== undefined ? { since: parseSince(values.since) } : {}),
  };
}

/** `--since`: an RFC 3339 time (`2026-12-04T13:00:00Z`), a Unix time in seconds, or a duration back from now (`10m`, `1h30m`, `45s`). */
export function parseSince(value: string, now: Date = new Date()): Date {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  if (/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(value)) {
    let ms = 0;
    for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(n) * units[unit!]!;
    return new Date(now.getTime() - ms);
  }
  if (/^\d+(\.\d+)?$/.test(value)) return new Date(Number(value) * 1000);
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(t.getTime())) throw new UsageError(`invalid --since "${value}"`, 'give a time (2026-12-04T13:00:00Z), Unix seconds, or a duration back from now (10m, 1h30m)');
  return t;
}

function parseExec(args: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  // Options end at the container: everything after it is the command, dashes included.
  const split = firstPositional(args, EXEC_OPTIONS);
  const { values, positionals } = strictParse('exec', args.slice(0, split), EXEC_OPTIONS, true);
  if (values.help) return { command: 'help', topic: 'exec' };
  const rest = [...positionals, ...args.slice(split)];
  if (rest[0] === '--') rest.shift();
  const [container, ...command] = rest;
  if (container === undefined) throw new UsageError('`slipway exec` needs a container and a command', 'e.g. `slipway exec my-db psql -U postgres` (names and ids: `slipway ps`)');
  if (!command.length) throw new UsageError(`\`slipway exec ${container}\` needs a command`, `e.g. \`slipway exec ${container} sh -c 'echo hi'\``);
  return {
    command: 'exec', container, args: command, interactive: !!values.interactive, tty: !!values.tty,
    env: parseEnv(values.env ?? [], env), user: values.user, workdir: values.workdir,
  };
}

function strictParse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: readonly string[], options: O, allowPositionals: boolean) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const m = /'([^']+)'/.exec(err.message);
    switch (err.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown option ${m?.[1] ?? ''} for \`slipway ${command}\``.replace('  ', ' '), `see \`slipway help ${command}\` for the options`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
        const opt = /(--[a-z-]+)/.exec(err.message)?.[1] ?? m?.[1] ?? 'an option';
        if (err.message.includes('ambiguous')) {
          const long = /use '(--[a-z-]+)=/.exec(err.message)?.[1] ?? opt;
          throw new UsageError(`the value after ${m?.[1] ?? opt} starts with "-"`, `write ${long}=<value> if the dash is meant, or give the missing value`);
        }
        throw new UsageError(`${opt} needs a value`, `e.g. \`${opt} <value>\`; see \`slipway help ${command}\``);
      }
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`\`slipway ${command}\` takes no arguments, got ${m?.[1] ?? 'one'}`, `see \`slipway help ${command}\``);
      default:
        throw new UsageError(err.message, `see \`slipway help ${command}\``);
    }
  }
}

/** `a b` → `'a b'`, for a command line quoted back in a hint. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function checkRef(ref: string): string {
  if (ref.trim() === '' || /\s/.test(ref)) throw new UsageError(`invalid image reference ${JSON.stringify(ref)}`, 'give a reference such as redis:7 or localhost:5000/app@sha256:…');
  return ref;
}

function checkPlatform(platform: string | undefined): string | undefined {
  if (platform !== undefined && !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(platform)) {
    throw new UsageError(`invalid --platform "${platform}"`, 'use os/arch[/variant], e.g. --platform linux/arm64');
  }
  return platform;
}

/** Parses `-p [hostIp:][hostPort:]containerPort[/udp]` (hostPort may be empty: `127.0.0.1::80`). */
export function parsePublish(spec: string): PublishSpec {
  const bad = (why: string): UsageError => new UsageError(`invalid -p ${JSON.stringify(spec)}: ${why}`, 'use -p [hostIp:][hostPort:]containerPort[/udp], e.g. -p 8080, -p 9000:80 or -p 0.0.0.0:53:53/udp');
  const m = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d*):)?(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) throw bad('not in the expected form');
  const [, hostIp, hostPort, containerPort, protocol] = m;
  const port = (v: string, allowZero: boolean, what: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) throw bad(`${what} must be between ${allowZero ? 0 : 1} and 65535`);
    return n;
  };
  if (hostIp && hostIp.split('.').some((o) => Number(o) > 255)) throw bad('host address is not an IPv4 address');
  return {
    container: port(containerPort!, false, 'container port'),
    protocol: protocol === 'udp' ? 'udp' : 'tcp',
    host: hostPort ? port(hostPort, true, 'host port') : 0,
    hostIp: hostIp ?? '127.0.0.1',
  };
}
