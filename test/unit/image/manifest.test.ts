import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../../src/errors.js';
import { chainIds, parseImageConfig, parseManifest } from '../../../src/image/manifest.js';
import { hostPlatform, parsePlatform, selectPlatform, type PlatformEntry } from '../../../src/image/platform.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return SlipwayError.is(e) ? e.code : 'other';
  }
  return undefined;
};

describe('parseManifest', () => {
  const oci = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 10 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: d('b'), size: 5 }] };
  it('parses OCI and Docker manifests and indexes', () => {
    const m = parseManifest(Buffer.from(JSON.stringify(oci)), 'application/vnd.oci.image.manifest.v1+json');
    expect(m.kind).toBe('manifest');
    const list = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: d('c'), size: 1, platform: { os: 'linux', architecture: 'amd64' } }] })), 'application/vnd.docker.distribution.manifest.list.v2+json');
    expect(list.kind).toBe('index');
    // No mediaType in the body: inferred.
    const { mediaType: _, ...bare } = oci;
    expect(parseManifest(Buffer.from(JSON.stringify(bare)), 'application/json').kind).toBe('manifest');
  });
  it('rejects contradictions, schema 1, artifacts and bad digests', () => {
    expect(code(() => parseManifest(Buffer.from(JSON.stringify(oci)), 'application/vnd.docker.distribution.manifest.v2+json'))).toBe('ERR_MANIFEST_INVALID');
    expect(code(() => parseManifest(Buffer.from('{"schemaVersion":1}'), 'application/json'))).toBe('ERR_MANIFEST_INVALID');
    expect(code(() => parseManifest(Buffer.from(JSON.stringify({ ...oci, config: { ...oci.config, mediaType: 'application/vnd.cncf.helm.config.v1+json' } })), ''))).toBe('ERR_MANIFEST_INVALID');
    expect(code(() => parseManifest(Buffer.from(JSON.stringify({ ...oci, layers: [{ ...oci.layers[0], digest: 'sha256:../../etc' }] })), ''))).toBe('ERR_MANIFEST_INVALID');
    expect(code(() => parseManifest(Buffer.from('nope'), ''))).toBe('ERR_MANIFEST_INVALID');
  });
  it('checks diff_ids against the layer count', () => {
    const cfg = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [d('1')] } }));
    expect(parseImageConfig(cfg, 1).rootfs.diff_ids).toEqual([d('1')]);
    expect(code(() => parseImageConfig(cfg, 2))).toBe('ERR_MANIFEST_INVALID');
  });
  it('refuses a config whose fields slipway reads have other types (a hostile image: untyped TypeErrors at start)', () => {
    const base = { os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [d('1')] } };
    const cfg = (config: unknown) => Buffer.from(JSON.stringify({ ...base, config }));
    // What Docker writes, nulls included, passes.
    expect(parseImageConfig(cfg({ Env: ['A=1'], Cmd: null, Entrypoint: ['sh'], User: '', WorkingDir: '/', Labels: null, ExposedPorts: { '80/tcp': {} }, Volumes: null, Healthcheck: { Test: ['NONE'] } }), 1).config?.Entrypoint).toEqual(['sh']);
    for (const bad of [{ Cmd: 5 }, { Entrypoint: 'sh' }, { Env: [1, {}] }, { User: 7 }, { WorkingDir: [] }, { StopSignal: 9 }, { Labels: { a: {} } },
      { ExposedPorts: ['80/tcp'] }, { Healthcheck: { Test: 'true' } }, { Healthcheck: { Interval: 'abc' } }, 'config']) {
      expect(code(() => parseImageConfig(cfg(bad), 1)), JSON.stringify(bad)).toBe('ERR_MANIFEST_INVALID');
    }
  });
  it('computes chain ids as image-spec does', () => {
    // Cross-checked with: printf 'sha256:111… sha256:222…' | sha256sum
    const ids = chainIds([d('1'), d('2')]);
    expect(ids[0]).toBe(d('1'));
    expect(ids[1]).toBe(`sha256:${createHash('sha256').update(`${d('1')} ${d('2')}`).digest('hex')}`);
  });
});

describe('platforms', () => {
  const entries: PlatformEntry[] = [
    { digest: d('1'), platform: { os: 'linux', architecture: 'amd64' } },
    { digest: d('2'), platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { digest: d('3'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { digest: d('4'), platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
    { digest: d('5'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { digest: d('6'), platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
  ];
  it('maps the host architecture', () => {
    const h = hostPlatform();
    expect(h.os).toBe('linux');
    if (process.arch === 'x64') expect(h).toEqual({ os: 'linux', architecture: 'amd64' });
    if (process.arch === 'arm64') expect(h).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  it('parses platform strings', () => {
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(code(() => parsePlatform('linux//x'))).toBe('ERR_INVALID_ARGUMENT');
  });
  it('selects exact and compatible variants, never attestations', () => {
    expect(selectPlatform(entries, { os: 'linux', architecture: 'amd64' }).digest).toBe(d('1'));
    expect(selectPlatform(entries, { os: 'linux', architecture: 'amd64', variant: 'v3' }).digest).toBe(d('6'));
    expect(selectPlatform(entries, { os: 'linux', architecture: 'arm64' }).digest).toBe(d('3'));
    expect(selectPlatform(entries, parsePlatform('linux/arm/v7')).digest).toBe(d('5'));
    expect(selectPlatform(entries, parsePlatform('linux/arm/v8')).digest).toBe(d('5'));
    expect(selectPlatform(entries.filter((e) => e.digest !== d('5')), parsePlatform('linux/arm/v7')).digest).toBe(d('2'));
    expect(code(() => selectPlatform(entries, parsePlatform('linux/arm/v5')))).toBe('ERR_PLATFORM_NOT_FOUND');
  });
  it('lists the available platforms when nothing matches', () => {
    try {
      selectPlatform(entries, { os: 'linux', architecture: 's390x' });
      expect.unreachable();
    } catch (e) {
      expect((e as SlipwayError).code).toBe('ERR_PLATFORM_NOT_FOUND');
      expect((e as Error).message).toContain('linux/amd64, linux/arm/v6, linux/arm64/v8, linux/arm/v7, linux/amd64/v3');
      expect((e as Error).message).not.toContain('unknown');
    }
  });
});
