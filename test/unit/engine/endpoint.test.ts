import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeEndpoint, engineCandidates, parseEngineAddress, type DiscoveryHost } from '../../../src/engine/endpoint.js';
import { compareApi, negotiateApi } from '../../../src/engine/client.js';

function host(env: NodeJS.ProcessEnv, files: Record<string, string> = {}, sockets: string[] = []): DiscoveryHost {
  return { env, home: '/home/u', readFile: (p) => (p in files ? Buffer.from(files[p]!) : undefined), isSocket: (p) => sockets.includes(p) };
}

describe('engine discovery', () => {
  it('DOCKER_HOST wins and is the only candidate', () => {
    const c = engineCandidates(host({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }, {}, ['/var/run/docker.sock']));
    expect(c.map(describeEndpoint)).toEqual(['tcp://127.0.0.1:2375']);
    expect(c[0]!.source).toBe('DOCKER_HOST');
  });

  it('then the current context, then the sockets that exist, in the documented order', () => {
    const meta = `/home/u/.docker/contexts/meta/${createHash('sha256').update('colima').digest('hex')}/meta.json`;
    const files = { '/home/u/.docker/config.json': JSON.stringify({ currentContext: 'colima' }), [meta]: JSON.stringify({ Endpoints: { docker: { Host: 'unix:///home/u/.colima/default/docker.sock' } } }) };
    const sockets = ['/home/u/.rd/docker.sock', '/var/run/docker.sock', '/run/user/1000/podman/podman.sock', '/home/u/.docker/run/docker.sock', '/home/u/.colima/default/docker.sock'];
    const c = engineCandidates(host({ XDG_RUNTIME_DIR: '/run/user/1000' }, files, sockets));
    expect(c.map((e) => `${describeEndpoint(e)} ${e.source}`)).toEqual([
      'unix:///home/u/.colima/default/docker.sock docker context colima',
      'unix:///var/run/docker.sock Docker',
      'unix:///run/user/1000/podman/podman.sock Podman (rootless)',
      'unix:///home/u/.docker/run/docker.sock Docker Desktop',
      'unix:///home/u/.rd/docker.sock Rancher Desktop',
    ]);
  });

  it('no engine: no candidate; a missing socket is not one', () => {
    expect(engineCandidates(host({}))).toEqual([]);
  });

  it('TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; port 2376 by default then', () => {
    const files = { '/certs/ca.pem': 'CA', '/certs/cert.pem': 'CERT', '/certs/key.pem': 'KEY' };
    const e = parseEngineAddress('tcp://engine.test', 'DOCKER_HOST', host({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, files));
    expect(e).toMatchObject({ kind: 'tcp', host: 'engine.test', port: 2376, tls: { verify: true } });
    expect(e.kind === 'tcp' && e.tls?.ca?.toString()).toBe('CA');
    expect(parseEngineAddress('tcp://[::1]:2375', 'x', host({}))).toMatchObject({ host: '::1', port: 2375 });
    expect(() => parseEngineAddress('ssh://me@box', 'DOCKER_HOST', host({}))).toThrow(/ssh:\/\/ and npipe/);
  });
});

describe('API version negotiation', () => {
  it('speaks the engine\'s version up to the client\'s own, refuses one too old, and honours a pin', () => {
    expect(negotiateApi('1.41')).toBe('1.41');
    expect(negotiateApi('1.45')).toBe('1.43');
    expect(() => negotiateApi('1.25')).toThrow(/needs 1.32 or newer/);
    expect(negotiateApi('1.45', '1.40')).toBe('1.40');
    expect(compareApi('1.9', '1.10')).toBeLessThan(0);
  });
});

describe('engine TLS settings', () => {
  it('DOCKER_TLS_VERIFY reads ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH and verifies', () => {
    const files = { '/c/ca.pem': 'CA', '/c/cert.pem': 'CERT', '/c/key.pem': 'KEY' };
    const [e] = engineCandidates(host({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }, files));
    expect(e).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 2376, tls: { verify: true } });
    const t = e?.kind === 'tcp' ? e.tls : undefined;
    expect([t?.ca, t?.cert, t?.key].map(String)).toEqual(['CA', 'CERT', 'KEY']);
  });

  it('verifying without a readable ca.pem, or half a client pair, is ERR_CONFIG naming the file', () => {
    expect(() => engineCandidates(host({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }, { '/c/cert.pem': 'C', '/c/key.pem': 'K' })))
      .toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringContaining('/c/ca.pem') }));
    expect(() => engineCandidates(host({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }, { '/c/ca.pem': 'A', '/c/cert.pem': 'C' })))
      .toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringContaining('/c/key.pem') }));
  });
});
