import { describe, expect, it } from 'vitest';
import { Container } from '../../../src/api/container.js';
import { GenericContainer } from '../../../src/testcontainers.js';
import { tmpfsWords, type TmpfsMount } from '../../../src/runtime/index.js';
import { engineCreateBody } from '../../../src/runtime/engine/engine-launch.js';

const tmpfsOf = (c: Container): TmpfsMount => c.options.mounts[0] as TmpfsMount;
const tcTmpfs = (opts: string): TmpfsMount => tmpfsOf((new GenericContainer('busybox').withTmpFs({ '/x': opts }) as unknown as { container: Container }).container);

describe('tmpfs options', () => {
  it('testcontainers\' withTmpFs applies every Docker option over Docker\'s noexec,nosuid,nodev', () => {
    // Before: only size and mode were read; ro, noexec, uid= and gid= were accepted and dropped.
    const m = tcTmpfs('ro,noexec,nosuid,nodev,uid=1000,gid=1001,size=2m,mode=750,noatime,nr_inodes=1k');
    expect(m).toMatchObject({ readonly: true, uid: 1000, gid: 1001, size: 2 * 1024 * 1024, mode: 0o750, data: ['nr_inodes=1k'] });
    expect(tmpfsWords(m)).toEqual(['ro', 'noexec', 'nosuid', 'nodev', 'noatime', 'size=2097152', 'mode=0750', 'uid=1000', 'gid=1001', 'nr_inodes=1k']);
    // Docker's defaults hold when the string says nothing, and a later word of a kind wins (`exec` lifts noexec).
    expect(tmpfsWords(tcTmpfs('rw'))).toEqual(['rw', 'noexec', 'nosuid', 'nodev', 'mode=1777']);
    expect(tmpfsWords(tcTmpfs('exec,size=1m,rw,defaults,rprivate'))).toEqual(['rw', 'exec', 'nosuid', 'nodev', 'size=1048576', 'mode=1777']);
    expect(tcTmpfs('ro,rw').readonly).toBeUndefined();
  });

  it('Container.withTmpfs keeps its defaults (writable, exec, nosuid, nodev, 1777) and takes fields and option words', () => {
    expect(tmpfsWords(tmpfsOf(new Container('x').withTmpfs('/t')))).toEqual(['rw', 'exec', 'nosuid', 'nodev', 'mode=1777']);
    const m = tmpfsOf(new Container('x').withTmpfs('/t', { uid: 7, gid: 8, readonly: true, noexec: true, options: 'suid,mpol=bind:0' }));
    expect(tmpfsWords(m)).toEqual(['ro', 'nodev', 'noexec', 'suid', 'mode=1777', 'uid=7', 'gid=8', 'mpol=bind:0']);
  });

  it('an unknown option is ERR_INVALID_ARGUMENT naming it and the accepted ones; bad values name the option', () => {
    const err = (fn: () => unknown): unknown => { try { fn(); } catch (e) { return e; } return undefined; };
    expect(err(() => tcTmpfs('rw,noexex'))).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT', shortMessage: 'invalid tmpfs /x: unknown tmpfs option "noexex"', hint: expect.stringMatching(/accepted: ro, rw, noexec, exec, .*uid=, gid=, nr_inodes=/),
    });
    expect(err(() => tcTmpfs('huge=always'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('"huge=always"') });
    expect(err(() => tcTmpfs('uid=-1'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', shortMessage: 'invalid tmpfs /x uid: "-1"' });
    expect(err(() => tcTmpfs('uid=alice'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(err(() => tcTmpfs('mode=8'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', shortMessage: 'invalid tmpfs /x mode: "8"' });
    expect(err(() => tcTmpfs('nr_inodes=1x'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(err(() => tcTmpfs('mpol=bind:0,1'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' }); // ',1' is a word of its own
    expect(err(() => tcTmpfs('size=lots'))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('tmpfs /x size') });
    expect(err(() => tcTmpfs('shared'))).toMatchObject({ code: 'ERR_UNSUPPORTED' });
    expect(err(() => new Container('x').withTmpfs('/t', { uid: 1.5 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(err(() => new Container('x').withTmpfs('/t', { readonly: 'yes' as never }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(err(() => new GenericContainer('busybox').withTmpFs({ '/x': 5 as never }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('an engine gets every flag explicit: its own default is noexec, which a native-API tmpfs is not', () => {
    const body = engineCreateBody(new Container('busybox').withTmpfs('/a').withTmpfs('/b', { readonly: true, uid: 5 }).options, 'img', {}, 's') as { HostConfig: { Tmpfs: Record<string, string> } };
    expect(body.HostConfig.Tmpfs).toEqual({ '/a': 'rw,exec,nosuid,nodev,mode=1777', '/b': 'ro,exec,nosuid,nodev,mode=1777,uid=5' });
  });
});
