// `slipway compose …` argument parsing: global options before the verb, each verb's options, exec's command.
import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../../../src/cli/args.js';

const parse = (...argv: string[]) => parseCommandLine(['compose', ...argv], { FROM_ENV: 'x' });

describe('slipway compose arguments', () => {
  it('global options, then the verb and its options', () => {
    expect(parse('-f', 'a.yml', '--file', 'b.yml', '-p', 'proj', '--profile', 'db', 'up', '-d', '-t', '5', 'api')).toMatchObject({
      command: 'compose', verb: 'up', files: ['a.yml', 'b.yml'], projectName: 'proj', profiles: ['db'], detach: true, timeout: 5, services: ['api'],
    });
    expect(parse('down', '-v')).toMatchObject({ verb: 'down', removeVolumes: true, files: [] });
    expect(parse('ps', '-a', '--json', 'web')).toMatchObject({ verb: 'ps', all: true, json: true, services: ['web'] });
    expect(parse('logs', '-f', '-n', '20')).toMatchObject({ verb: 'logs', follow: true, tail: 20 });
  });

  it('exec: options end at the service; the command keeps its dashes', () => {
    expect(parse('exec', '-e', 'A=1', '-e', 'FROM_ENV', '--index', '2', '-T', 'db', 'psql', '-U', 'postgres')).toMatchObject({
      verb: 'exec', services: ['db'], args: ['psql', '-U', 'postgres'], env: { A: '1', FROM_ENV: 'x' }, index: 2,
    });
  });

  it('mistakes are usage errors that say what to do', () => {
    const err = (f: () => unknown): UsageError => {
      try { f(); } catch (e) { if (e instanceof UsageError) return e; throw e; }
      throw new Error('no error');
    };
    expect(err(() => parse('upp')).message).toMatch(/unknown compose command "upp"/);
    expect(err(() => parse('exec', 'db')).fix).toMatch(/compose exec db psql/);
    expect(err(() => parse('-p', 'Bad Name', 'ps')).message).toMatch(/invalid project name/);
    expect(err(() => parse('down', 'web')).message).toMatch(/takes no services/);
    expect(err(() => parse('up', '--nope')).message).toMatch(/unknown option --nope/);
    expect(err(() => parse('exec', '--index', '0', 'db', 'true')).message).toMatch(/invalid --index/);
    expect(parse()).toEqual({ command: 'help', topic: 'compose' });
  });
});
