/**
 * `slipway compose [-f file…] [-p name] [--project-directory dir] [--profile p…] [--env-file f] <verb> …`:
 * argv → a typed command. Nothing here touches the system.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { firstPositional, parseEnv } from './arg-tools.js';
import { UsageError } from './usage-error.js';

/** The verbs of `slipway compose`. */
export const COMPOSE_VERBS = ['up', 'down', 'ps', 'logs', 'exec'] as const;

export interface ComposeCommand {
  command: 'compose';
  verb: (typeof COMPOSE_VERBS)[number];
  /** `-f`, in merge order; empty: compose.yaml… in the project directory. */
  files: string[];
  projectName?: string;
  projectDir?: string;
  profiles: string[];
  envFile?: string;
  /** up: the services to start (and their dependencies); ps/logs: the services to show; exec: [service]. */
  services: string[];
  /** up -d */
  detach: boolean;
  /** up --snapshots: every service from its snapshot (`ComposeEnvironment.withSnapshots()`) */
  snapshots: boolean;
  /** down -v */
  removeVolumes: boolean;
  /** Seconds between the stop signal and SIGKILL (up's Ctrl-C, down -t); undefined: each service's stop_grace_period. */
  timeout?: number;
  /** ps -a / -q / --json */
  all: boolean;
  quiet: boolean;
  json: boolean;
  /** logs -f / -n */
  follow: boolean;
  tail?: number;
  /** exec */
  args: string[];
  index: number;
  env: Record<string, string>;
  user?: string;
  workdir?: string;
}

const GLOBAL = {
  file: { type: 'string', short: 'f', multiple: true },
  'project-name': { type: 'string', short: 'p' },
  'project-directory': { type: 'string' },
  profile: { type: 'string', multiple: true },
  'env-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const VERB_OPTIONS = {
  up: { detach: { type: 'boolean', short: 'd' }, timeout: { type: 'string', short: 't' }, snapshots: { type: 'boolean' } },
  down: { volumes: { type: 'boolean', short: 'v' }, timeout: { type: 'string', short: 't' } },
  ps: { all: { type: 'boolean', short: 'a' }, quiet: { type: 'boolean', short: 'q' }, json: { type: 'boolean' } },
  logs: { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' } },
  exec: {
    env: { type: 'string', short: 'e', multiple: true }, user: { type: 'string', short: 'u' }, workdir: { type: 'string', short: 'w' },
    index: { type: 'string' }, 'no-TTY': { type: 'boolean', short: 'T' }, interactive: { type: 'boolean', short: 'i' },
  },
} as const satisfies Record<string, ParseArgsConfig['options']>;

type Values = Record<string, string | boolean | string[] | undefined>;

function parse(what: string, args: readonly string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (e) {
    const m = /'([^']+)'/.exec((e as Error).message);
    throw new UsageError(`${(e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 'unknown option' : 'bad option'} ${m?.[1] ?? ''} for \`slipway ${what}\``.replace('  ', ' '), `see \`slipway help compose\``);
  }
}

function seconds(v: string | undefined, opt: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`invalid ${opt} "${v}"`, `give seconds, e.g. ${opt} 10`);
  return n;
}

/**
 * Parses the arguments after `slipway compose`.
 * @throws {@link UsageError} for an unknown verb or option, or a missing service/command for exec.
 */
export function parseCompose(argv: readonly string[], env: NodeJS.ProcessEnv): ComposeCommand | { command: 'help'; topic: string } {
  const split = firstPositional(argv, GLOBAL);
  const g = parse('compose', argv.slice(0, split), GLOBAL);
  const [verb, ...rest] = argv.slice(split);
  if (g.values.help || verb === undefined || verb === 'help') return { command: 'help', topic: 'compose' };
  if (!(COMPOSE_VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`unknown compose command "${verb}"`, `use one of ${COMPOSE_VERBS.join(', ')} (see \`slipway help compose\`)`);
  }
  const v = verb as ComposeCommand['verb'];
  const options = VERB_OPTIONS[v];
  // exec: options end at the service; everything after it is the command.
  const cut = v === 'exec' ? firstPositional(rest, options) : rest.length;
  const { values, positionals } = parse(`compose ${v}`, rest.slice(0, cut), options);
  if (values.help) return { command: 'help', topic: 'compose' };
  const o = values;
  const cmd: ComposeCommand = {
    command: 'compose', verb: v,
    files: (g.values.file as string[] | undefined) ?? [],
    projectName: g.values['project-name'] as string | undefined,
    projectDir: g.values['project-directory'] as string | undefined,
    profiles: (g.values.profile as string[] | undefined) ?? [],
    envFile: g.values['env-file'] as string | undefined,
    services: positionals, detach: !!o.detach, snapshots: !!o.snapshots, removeVolumes: !!o.volumes,
    timeout: seconds(o.timeout as string | undefined, '--timeout'),
    all: !!o.all, quiet: !!o.quiet, json: !!o.json, follow: !!o.follow,
    args: [], index: 1, env: {},
  };
  if (cmd.projectName !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(cmd.projectName)) {
    throw new UsageError(`invalid project name "${cmd.projectName}"`, 'use lowercase letters, digits, "_" and "-", starting with a letter or digit');
  }
  if (o.tail !== undefined && o.tail !== 'all') {
    if (!/^\d+$/.test(o.tail as string)) throw new UsageError(`invalid --tail "${String(o.tail)}"`, 'give a number of lines, e.g. --tail 20');
    cmd.tail = Number(o.tail);
  }
  if (v === 'down' && positionals.length) throw new UsageError('`slipway compose down` takes no services', 'it removes the whole project');
  if (v === 'exec') {
    const after = [...positionals, ...rest.slice(cut)];
    if (after[0] === '--') after.shift();
    const [service, ...command] = after;
    if (service === undefined || !command.length) throw new UsageError('`slipway compose exec` needs a service and a command', 'e.g. `slipway compose exec db psql -U postgres`');
    cmd.services = [service];
    cmd.args = command;
    cmd.env = parseEnv((o.env as string[] | undefined) ?? [], env);
    cmd.user = o.user as string | undefined;
    cmd.workdir = o.workdir as string | undefined;
    if (o.index !== undefined) {
      if (!/^[1-9]\d*$/.test(o.index as string)) throw new UsageError(`invalid --index "${String(o.index)}"`, 'give a replica number from 1, e.g. --index 2');
      cmd.index = Number(o.index);
    }
  }
  return cmd;
}
