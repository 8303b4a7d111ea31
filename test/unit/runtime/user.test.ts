import { describe, expect, it } from 'vitest';
import { resolveUser } from '../../../src/runtime/user.js';
import { SlipwayError } from '../../../src/errors.js';

const passwd = `root:x:0:0:root:/root:/bin/bash
# comment
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/bash
app:x:1000:1000::/home/app:/bin/sh
broken line
`;
const group = `root:x:0:
postgres:x:999:
app:x:1000:
ssl-cert:x:101:postgres
audio:x:29:app,postgres
`;

describe('resolveUser', () => {
  it('defaults to root', () => {
    expect(resolveUser(undefined, passwd, group)).toEqual({ uid: 0, gid: 0, groups: [], home: '/root' });
  });
  it('resolves a name with its primary and supplementary groups', () => {
    expect(resolveUser('postgres', passwd, group)).toEqual({ uid: 999, gid: 999, groups: [101, 29], home: '/var/lib/postgresql' });
  });
  it('resolves a uid present in passwd to its gid', () => {
    expect(resolveUser('1000', passwd, group)).toMatchObject({ uid: 1000, gid: 1000, groups: [29] });
  });
  it('runs an unknown numeric uid with gid 0 and home /', () => {
    expect(resolveUser('4242', passwd, group)).toEqual({ uid: 4242, gid: 0, groups: [], home: '/' });
  });
  it('honours uid:gid and name:group, without supplementary groups', () => {
    expect(resolveUser('999:999', passwd, group)).toEqual({ uid: 999, gid: 999, groups: [], home: '/var/lib/postgresql' });
    expect(resolveUser('app:ssl-cert', passwd, group)).toEqual({ uid: 1000, gid: 101, groups: [], home: '/home/app' });
  });
  it('rejects unknown names and malformed values with a fix', () => {
    expect(() => resolveUser('nobody', passwd, group)).toThrow(/unable to find user nobody/);
    expect(() => resolveUser('app:nogroup', passwd, group)).toThrow(/unable to find group nogroup/);
    try { resolveUser('a:b:c', passwd, group); expect.unreachable(); } catch (e) {
      expect(SlipwayError.is(e, 'ERR_INVALID_ARGUMENT')).toBe(true);
    }
  });
});
