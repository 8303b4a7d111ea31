import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../../../src/cli/args.js';

describe('slipway build arguments', () => {
  it('reads -t, -f, repeated --build-arg (K from the environment when no value), --target, --no-cache', () => {
    expect(parseCommandLine(['build', '-t', 'app:test', '-f', 'docker/Dockerfile', '--build-arg', 'A=1', '--build-arg', 'B=x=y', '--build-arg', 'FROM_ENV', '--build-arg', 'UNSET', '--target', 'runtime', '--no-cache', 'ctx'], { FROM_ENV: 'e' }))
      .toEqual({ command: 'build', context: 'ctx', tag: 'app:test', dockerfile: 'docker/Dockerfile', buildArgs: { A: '1', B: 'x=y', FROM_ENV: 'e' }, target: 'runtime', cache: false, quiet: false });
    expect(parseCommandLine(['build', '.'])).toMatchObject({ command: 'build', context: '.', cache: true, buildArgs: {} });
    expect(parseCommandLine(['build', '-h'])).toEqual({ command: 'help', topic: 'build' });
  });

  it('--secret as docker build reads it: src= a file, env= a variable, bare id= the variable when set, else the file', () => {
    expect(parseCommandLine(['build', '--secret', 'id=npmrc,src=/home/me/.npmrc', '--secret', 'id=tok,env=API_TOKEN', '--secret', 'id=SET', '--secret', 'id=unset', '--secret', 'id=t2,type=env', '.'], { SET: 'x' }))
      .toMatchObject({ secrets: { npmrc: { file: '/home/me/.npmrc' }, tok: { env: 'API_TOKEN' }, SET: { env: 'SET' }, unset: { file: 'unset' }, t2: { env: 't2' } } });
    expect(() => parseCommandLine(['build', '--secret', 'src=/x', '.'])).toThrow(/id= is missing/);
    expect(() => parseCommandLine(['build', '--secret', 'id=a,path=/x', '.'])).toThrow(/unknown key path/);
    expect(() => parseCommandLine(['build', '--secret', 'id=a,type=ssh', '.'])).toThrow(/type=ssh/);
  });

  it('--platform is passed on as given (the builder parses it)', () => {
    expect(parseCommandLine(['build', '--platform', 'linux/arm64', '.'])).toMatchObject({ command: 'build', platform: 'linux/arm64' });
    expect(parseCommandLine(['build', '.'])).not.toHaveProperty('platform');
  });

  it('bad input is a UsageError naming the fix', () => {
    expect(() => parseCommandLine(['build'])).toThrow(UsageError);
    expect(() => parseCommandLine(['build', 'a', 'b'])).toThrow(/takes one context directory/);
    expect(() => parseCommandLine(['build', '--build-arg', '1X=2', '.'])).toThrow(/invalid --build-arg/);
    expect(() => parseCommandLine(['build', '--bogus', '.'])).toThrow(UsageError);
  });
});
