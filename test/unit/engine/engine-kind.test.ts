// Which engine answers (GET /version), and what its builder is refused: the modern-Dockerfile refusals are for Docker's
// classic builder (POST /build without BuildKit); Podman's POST /build is buildah, which has heredocs and --chmod.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { engineKindOf, type EngineKind } from '../../../src/engine/client.js';

// Recorded bodies. Docker 20.10 as Debian packages it (this machine's dockerd, `curl --unix-socket
// /var/run/docker.sock http://d/version`: an empty Platform name); Podman 4.1.1's compat API on CentOS 9 (as printed in
// a public blog post on Docker outside of Docker); Docker CE's Platform name and components.
const DOCKER_DEBIAN = '{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-05-07T21:09:36.000000000+00:00","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v1147","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.18.44-fc-v1147","BuildTime":"2026-05-07T21:09:36.000000000+00:00"}';
const PODMAN = '{"Platform":{"Name":"linux/amd64/\\"centos\\"-9"},"Components":[{"Name":"Podman Engine","Version":"4.1.1","Details":{"APIVersion":"4.1.1","Arch":"amd64","BuildTime":"2022-06-16T00:59:06+08:00","Experimental":"false","GitCommit":"","GoVersion":"go1.17.5","KernelVersion":"5.14.0-115.el9.x86_64","MinAPIVersion":"4.0.0","Os":"linux"}},{"Name":"Conmon","Version":"conmon version 2.1.2, commit: 8b8ad6d5fea210d1d098d27339324d33c7a43179","Details":{"Package":"conmon-2.1.2-2.el9.x86_64"}},{"Name":"OCI Runtime (crun)","Version":"crun version 1.4.5\\ncommit: c381048530aa750495cf502ddb7181f2ded5b400\\nspec: 1.0.0\\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +CRIU +YAJL","Details":{"Package":"crun-1.4.5-2.el9.x86_64"}}],"Version":"4.1.1","ApiVersion":"1.40","MinAPIVersion":"1.24","GitCommit":"","GoVersion":"go1.17.5","Os":"linux","Arch":"amd64","KernelVersion":"5.14.0-115.el9.x86_64","BuildTime":"2022-06-16T00:59:06+08:00"}';
const DOCKER_CE = '{"Platform":{"Name":"Docker Engine - Community"},"Components":[{"Name":"Engine","Version":"28.5.1"},{"Name":"containerd","Version":"v2.1.4"}],"Version":"28.5.1","ApiVersion":"1.51"}';

// The engine build as the runtime would run it, with the engine's kind chosen by the test; nothing is sent anywhere.
let kind: EngineKind = 'docker';
const requests: unknown[] = [];
vi.mock('../../../src/runtime/index.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  buildOnEngine: async (request: (engine: { kind: EngineKind; buildKit: boolean }) => Promise<{ context: AsyncIterable<unknown> }>) => {
    const r = await request({ kind, buildKit: kind !== 'podman' });
    for await (const _ of r.context) { /* the context as the engine would read it */ }
    requests.push(r);
    return { ref: 'localhost/slipway-build:x', id: 'sha256:x' };
  },
}));
const { buildWithEngine } = await import('../../../src/build/build-with-engine.js');
const { parseDockerfile } = await import('../../../src/build/dockerfile.js');

const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-kind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MODERN = 'FROM busybox\nCOPY --chmod=755 run.sh /run.sh\nRUN <<EOF\necho hi\nEOF\n';
writeFileSync(join(dir, 'Dockerfile'), MODERN);
writeFileSync(join(dir, 'run.sh'), 'echo run\n');

describe('the engine kind', () => {
  it('is read from recorded /version bodies of Docker and Podman', () => {
    expect(engineKindOf(JSON.parse(DOCKER_DEBIAN))).toBe('docker');
    expect(engineKindOf(JSON.parse(DOCKER_CE))).toBe('docker');
    expect(engineKindOf(JSON.parse(PODMAN))).toBe('podman');
    expect(engineKindOf({})).toBe('other');
  });

  it('a heredoc (which Docker 20.10 lacks, BuildKit too) is refused before anything is sent on Docker only; Podman\'s buildah gets it', async () => {
    const df = parseDockerfile(MODERN);
    kind = 'docker';
    await expect(buildWithEngine(dir, df, {})).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED', message: expect.stringContaining('RUN <<EOF') });
    expect(requests).toHaveLength(0);
    kind = 'other';
    await expect(buildWithEngine(dir, df, {})).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
    kind = 'podman';
    await expect(buildWithEngine(dir, df, {})).resolves.toMatchObject({ ref: 'localhost/slipway-build:x' });
    expect(requests).toHaveLength(1);
  });

  it('a Dockerfile the classic builder could build goes to BuildKit on Docker (DOCKER_BUILDKIT=0: the classic builder, as for the docker CLI), to the classic builder elsewhere', async () => {
    writeFileSync(join(dir, 'Plain.Dockerfile'), 'FROM busybox\nCOPY run.sh /run.sh\nRUN true\n');
    const df = parseDockerfile('FROM busybox\nCOPY run.sh /run.sh\nRUN true\n');
    const builder = async (k: EngineKind, env?: string): Promise<unknown> => {
      kind = k;
      const saved = process.env.DOCKER_BUILDKIT;
      if (env === undefined) delete process.env.DOCKER_BUILDKIT; else process.env.DOCKER_BUILDKIT = env;
      try {
        await buildWithEngine(dir, df, { dockerfile: 'Plain.Dockerfile' });
      } finally {
        if (saved === undefined) delete process.env.DOCKER_BUILDKIT; else process.env.DOCKER_BUILDKIT = saved;
      }
      return (requests.at(-1) as { buildKit: boolean }).buildKit;
    };
    expect(await builder('docker')).toBe(true);
    expect(await builder('docker', '0')).toBe(false);
    expect(await builder('podman')).toBe(false);
    expect(await builder('other')).toBe(false);
  });
});
