import { describe, expect, it } from 'vitest';
import { familiarString, parseReference } from '../../../src/image/reference.js';
import { SlipwayError } from '../../../src/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['redis', 'docker.io', 'library/redis', 'latest', undefined, 'docker.io/library/redis:latest'],
    ['redis:7', 'docker.io', 'library/redis', '7', undefined, 'docker.io/library/redis:7'],
    ['library/redis', 'docker.io', 'library/redis', 'latest', undefined, 'docker.io/library/redis:latest'],
    ['bitnami/redis:7.2', 'docker.io', 'bitnami/redis', '7.2', undefined, 'docker.io/bitnami/redis:7.2'],
    ['docker.io/redis', 'docker.io', 'library/redis', 'latest', undefined, 'docker.io/library/redis:latest'],
    ['index.docker.io/redis', 'docker.io', 'library/redis', 'latest', undefined, 'docker.io/library/redis:latest'],
    ['index.docker.io/foo/bar', 'docker.io', 'foo/bar', 'latest', undefined, 'docker.io/foo/bar:latest'],
    ['localhost/x', 'localhost', 'x', 'latest', undefined, 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000', 'x', 'latest', undefined, 'localhost:5000/x:latest'],
    ['127.0.0.1:5000/a/b:tag', '127.0.0.1:5000', 'a/b', 'tag', undefined, '127.0.0.1:5000/a/b:tag'],
    ['registry.example.com:8443/a/b/c:v1.2-rc_3', 'registry.example.com:8443', 'a/b/c', 'v1.2-rc_3', undefined, 'registry.example.com:8443/a/b/c:v1.2-rc_3'],
    ['[::1]:5000/x:1', '[::1]:5000', 'x', '1', undefined, '[::1]:5000/x:1'],
    ['ghcr.io/owner/img', 'ghcr.io', 'owner/img', 'latest', undefined, 'ghcr.io/owner/img:latest'],
    // uppercase first element is a domain, as in Docker
    ['Foo/bar', 'Foo', 'bar', 'latest', undefined, 'Foo/bar:latest'],
    [`alpine@${D}`, 'docker.io', 'library/alpine', undefined, D, `docker.io/library/alpine@${D}`],
    [`alpine:3.19@${D}`, 'docker.io', 'library/alpine', '3.19', D, `docker.io/library/alpine:3.19@${D}`],
    [`localhost:5000/x@${D}`, 'localhost:5000', 'x', undefined, D, `localhost:5000/x@${D}`],
    ['a__b/c.d/e-f---g:UPPER_tag', 'docker.io', 'a__b/c.d/e-f---g', 'UPPER_tag', undefined, 'docker.io/a__b/c.d/e-f---g:UPPER_tag'],
  ])('%s', (input, domain, path, tag, digest, full) => {
    const r = parseReference(input);
    expect(r).toMatchObject({ domain, path, tag, digest, string: full, name: `${domain}/${path}` });
  });

  it('can leave the tag off', () => {
    expect(parseReference('redis', { defaultTag: false }).tag).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['Redis', /must be lowercase/],
    ['docker.io/Library/redis', /must be lowercase/],
    ['localhost:5000/Team/app', /must be lowercase/],
    ['a'.repeat(64), /image ID/],
    ['redis:', /tag/],
    ['redis:-bad', /tag/],
    [`redis:${'t'.repeat(129)}`, /tag/],
    ['redis@sha256:abc', /digest/],
    [`redis@sha256:${'A'.repeat(64)}`, /lowercase hex/],
    [`redis@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
    [`redis@sha256:${'a'.repeat(63)}`, /64 lowercase hex/],
    ['foo//bar', /repository/],
    ['foo/bar/', /repository/],
    ['-foo', /repository/],
    ['foo_-bar', /repository/],
    ['localhost:abc/x', /registry|repository/],
    [`x/${'a'.repeat(250)}`, /255/],
    ['exa mple', /repository/],
  ])('rejects %j', (input, reason) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(SlipwayError.is(err, 'ERR_INVALID_REFERENCE')).toBe(true);
    expect((err as Error).message).toMatch(reason);
  });

  it('prints the familiar form', () => {
    expect(familiarString(parseReference('redis'))).toBe('redis:latest');
    expect(familiarString(parseReference('bitnami/redis:1'))).toBe('bitnami/redis:1');
    expect(familiarString(parseReference('localhost:5000/x'))).toBe('localhost:5000/x:latest');
  });
});
