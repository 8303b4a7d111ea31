import { withSettings } from '../config/index.js';
import { SlipwayError } from '../errors.js';
import { parseCommandLine, UsageError, type CliCommand } from './args.js';
import { processIO, type CliIO } from './io.js';
import { usage } from './usage.js';
import { version } from './version.js';

/** Exit status for bad command-line input. */
export const EXIT_USAGE = 2;
/**
 * Exit status of every command when slipway itself failed (Docker's convention), so it is never mistaken for a
 * container's or an exec'd command's status.
 */
export const EXIT_FAILED = 125;

/**
 * Runs the `slipway` command line and resolves with the exit status; never throws. Errors print as
 * `slipway: CODE: message; fix: hint` (plus evidence such as the container's last log lines).
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  try {
    const cmd: CliCommand = parseCommandLine(argv, io.env);
    // One reading of the settings per command, made on its first use (help and version read none).
    return await withSettings(() => runCommand(cmd, io), { env: io.env });
  } catch (e) {
    return report(e, io);
  }
}

async function runCommand(cmd: CliCommand, io: CliIO): Promise<number> {
  switch (cmd.command) {
    case 'help':
      io.stdout.write(usage(cmd.topic));
      return 0;
    case 'version':
      io.stdout.write(`slipway ${version()}\n`);
      return 0;
    case 'pull':
      return await (await import('./pull-command.js')).pullCommand(cmd, io);
    case 'run':
      return await (await import('./run-command.js')).runCommand(cmd, io);
    case 'build':
      return await (await import('./build-command.js')).buildCommand(cmd, io);
    case 'save':
      return await (await import('./image-commands.js')).saveCommand(cmd, io);
    case 'push':
      return await (await import('./image-commands.js')).pushCommand(cmd, io);
    case 'compose':
      return await (await import('./compose-command.js')).composeCommand(cmd, io);
    case 'ps':
      return await (await import('./container-commands.js')).psCommand(cmd, io);
    case 'logs':
      return await (await import('./container-commands.js')).logsCommand(cmd, io);
    case 'exec':
      return await (await import('./container-commands.js')).execCommand(cmd, io);
    case 'rm':
      return await (await import('./container-commands.js')).rmCommand(cmd, io);
    case 'inspect':
      return await (await import('./container-commands.js')).inspectCommand(cmd, io);
    case 'images': {
      const store = await import('./store-commands.js');
      await store.refuseOnEngine('images', io.env);
      return await store.imagesCommand(cmd, io);
    }
    case 'rmi': {
      const store = await import('./store-commands.js');
      await store.refuseOnEngine('rmi', io.env);
      return await store.rmiCommand(cmd, io);
    }
    case 'info':
      return await (await import('./info-command.js')).infoCommand(cmd, io);
    case 'snapshots': {
      const store = await import('./store-commands.js');
      await store.refuseOnEngine('snapshots', io.env);
      return await store.snapshotsCommand(cmd, io);
    }
    case 'prune': {
      const store = await import('./store-commands.js');
      await store.refuseOnEngine('prune', io.env);
      return await store.pruneCommand(cmd, io);
    }
  }
}

function report(e: unknown, io: CliIO): number {
  if (e instanceof UsageError) {
    io.stderr.write(`slipway: ${e.message}; fix: ${e.fix}\n`);
    return EXIT_USAGE;
  }
  if (SlipwayError.is(e)) {
    io.stderr.write(`slipway: ${e.message}\n`);
    if (e.code === 'ERR_INVALID_ARGUMENT' || e.code === 'ERR_INVALID_REFERENCE') return EXIT_USAGE;
  } else {
    const err = e as Error;
    io.stderr.write(`slipway: ${err?.message ?? String(e)}\n`);
    if (io.env.DEBUG && err?.stack) io.stderr.write(`${err.stack}\n`);
  }
  return EXIT_FAILED;
}
