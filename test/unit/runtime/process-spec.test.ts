import { describe, expect, it } from 'vitest';
import { buildProcessSpec, DEFAULT_PATH } from '../../../src/runtime/process-spec.js';

const image = { Entrypoint: ['docker-entrypoint.sh'], Cmd: ['postgres'], Env: ['PATH=/usr/lib/pg/bin:/usr/bin', 'PGDATA=/var/lib/pg', 'BAD'], WorkingDir: '/srv', User: 'postgres' };

describe('buildProcessSpec (Docker rules)', () => {
  it('uses Entrypoint + Cmd from the image', () => {
    expect(buildProcessSpec(image, {})).toEqual({
      argv: ['docker-entrypoint.sh', 'postgres'], env: ['PATH=/usr/lib/pg/bin:/usr/bin', 'PGDATA=/var/lib/pg'], cwd: '/srv', user: 'postgres',
    });
  });
  it('withCommand replaces Cmd only', () => {
    expect(buildProcessSpec(image, { command: ['postgres', '-c', 'fsync=off'] }).argv).toEqual(['docker-entrypoint.sh', 'postgres', '-c', 'fsync=off']);
  });
  it('withEntrypoint replaces Entrypoint and clears the image Cmd', () => {
    expect(buildProcessSpec(image, { entrypoint: ['sh'] }).argv).toEqual(['sh']);
    expect(buildProcessSpec(image, { entrypoint: ['sh'], command: ['-c', 'true'] }).argv).toEqual(['sh', '-c', 'true']);
  });
  it('merges env by key, user values winning, and adds PATH when missing', () => {
    const s = buildProcessSpec({ Cmd: ['x'], Env: ['A=1', 'B=2'] }, { env: { B: '3', C: 'x=y' } }, { HOSTNAME: 'h', A: 'no' });
    expect(s.env).toEqual(['A=1', 'B=3', 'HOSTNAME=h', 'C=x=y', `PATH=${DEFAULT_PATH}`]);
  });
  it('fails clearly without any command, and on a relative workdir', () => {
    expect(() => buildProcessSpec({}, {})).toThrow(/no command specified.*withCommand/);
    expect(() => buildProcessSpec({ Cmd: ['x'] }, { workdir: 'rel' })).toThrow(/not absolute/);
  });
});
