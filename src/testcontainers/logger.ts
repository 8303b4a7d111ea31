/**
 * testcontainers' loggers: `debug` namespaces `testcontainers` (the public `log`) and `testcontainers:containers`
 * (every container's output, line by line), so `DEBUG=testcontainers*` shows what it shows with testcontainers.
 */
import createDebug from 'debug';
import type { StartedContainer } from '../api/started-container.js';

/**
 * What a log line is about: shown as `[<first 12 of the id>] [<image>] ` before the message.
 * @example
 * import { log, type LoggerOptions } from 'slipway/testcontainers';
 * const about: LoggerOptions = { imageName: 'postgres:16' };
 * log.info('pulling', about); // DEBUG=testcontainers prints "[INFO] [postgres:16] pulling"
 */
export interface LoggerOptions {
  containerId?: string;
  imageName?: string;
}

/**
 * testcontainers' `Logger`: a `debug` logger with levels, for module authors' own messages. Silent unless its
 * namespace is enabled (`DEBUG=testcontainers*`).
 * @example
 * import { log } from 'slipway/testcontainers';
 * if (log.enabled()) log.debug('seeding the database', { containerId: 'f3a9c0…' });
 */
export class Logger {
  readonly #debug: createDebug.Debugger;

  /**
   * @param namespace - the `debug` namespace (`DEBUG=<namespace>` enables it)
   * @param showLevel - whether messages start with `[LEVEL] `. @defaultValue true
   */
  constructor(namespace: string, private readonly showLevel = true) {
    this.#debug = createDebug(namespace);
    // As testcontainers: under a test runner (NODE_ENV=test) through console.log, so the runner shows the lines
    // with the test that made them (and can silence passing tests' output).
    if (process.env.NODE_ENV === 'test') this.#debug.log = console.log.bind(console);
  }

  /** Whether `DEBUG` enables this logger's namespace. */
  enabled(): boolean { return this.#debug.enabled; }
  trace(message: string, options?: LoggerOptions): void { this.#log('TRACE', message, options); }
  debug(message: string, options?: LoggerOptions): void { this.#log('DEBUG', message, options); }
  info(message: string, options?: LoggerOptions): void { this.#log('INFO', message, options); }
  warn(message: string, options?: LoggerOptions): void { this.#log('WARN', message, options); }
  error(message: string, options?: LoggerOptions): void { this.#log('ERROR', message, options); }

  #log(level: string, message: string, options: LoggerOptions | undefined): void {
    const id = options?.containerId ? `[${options.containerId.slice(0, 12)}] ` : '';
    const image = options?.imageName ? `[${options.imageName}] ` : '';
    this.#debug(`${this.showLevel ? `[${level}] ` : ''}${id}${image}${message}`);
  }
}

/**
 * testcontainers' `log` (namespace `testcontainers`).
 * @example
 * import { log } from 'slipway/testcontainers';
 * log.info('starting the fixtures'); // printed with DEBUG=testcontainers
 */
export const log = new Logger('testcontainers');

/** Each container's output as `trace` lines (namespace `testcontainers:containers`, no level), as testcontainers does. */
export const containerLog = new Logger('testcontainers:containers', false);

/** Per container: how many of its log lines were traced (each reader skips those, whichever reader traced them). */
const traced = new WeakMap<StartedContainer, { lines: number }>();

/** Traces the lines of `lines` (the container's log from its first line) that no reader traced yet. */
async function traceNew(c: StartedContainer, lines: AsyncIterable<string>): Promise<void> {
  let seen = traced.get(c);
  if (!seen) traced.set(c, (seen = { lines: 0 }));
  let i = 0;
  for await (const line of lines) {
    if (i++ < seen.lines) continue;
    seen.lines = i;
    containerLog.trace(line, { containerId: c.id });
  }
}

/**
 * While `containerLog` is enabled, traces `c`'s output lines until the container exits. Called again after a
 * restart: the log file holds every run, and a line is traced once, by whichever reader reaches it first (the first
 * run's follower may still be reading when the restarted run writes). Never rejects: the logs are for people.
 */
export function traceContainerOutput(c: StartedContainer): void {
  if (!containerLog.enabled() || c.removed) return;
  traceNew(c, c.logs({ follow: true })).catch(() => undefined);
}

/**
 * Traces what `c` logged so far and the follower has not reached yet, so a `start()` or `restart()` that returns
 * has traced the output of its wait (a follower polls).
 */
export async function traceLoggedSoFar(c: StartedContainer): Promise<void> {
  if (!containerLog.enabled() || c.removed) return;
  await traceNew(c, c.logs()).catch(() => undefined);
}
