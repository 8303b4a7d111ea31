/**
 * Platforms (`os/architecture[/variant]`): the host's default, parsing, and choosing one manifest out of an
 * index the way containers/image does (variant fallbacks, attestation entries skipped).
 */
import { SlipwayError } from '../errors.js';

/**
 * An OCI platform.
 * @example
 * import { pull, type Platform } from 'slipway';
 * const { platform } = await pull('redis:7', { platform: 'linux/arm64' });
 * const p: Platform = platform; // { os: 'linux', architecture: 'arm64', variant: 'v8' }
 */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
}

const NODE_ARCH: Record<string, Platform> = {
  x64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
  ia32: { os: 'linux', architecture: '386' },
  ppc64: { os: 'linux', architecture: 'ppc64le' },
  s390x: { os: 'linux', architecture: 's390x' },
  riscv64: { os: 'linux', architecture: 'riscv64' },
  loong64: { os: 'linux', architecture: 'loong64' },
  mips: { os: 'linux', architecture: 'mips' },
  mipsel: { os: 'linux', architecture: 'mipsle' },
};

/** The platform of this Node process (`x64` → `linux/amd64`, `arm64` → `linux/arm64/v8`, `arm` → `linux/arm/v7`…). */
export function hostPlatform(): Platform {
  const p = NODE_ARCH[process.arch] ?? { os: 'linux', architecture: process.arch };
  if (process.arch === 'arm') {
    const v = Number((process.config.variables as Record<string, unknown>).arm_version);
    if (v >= 5 && v <= 8) return { ...p, variant: `v${v}` };
  }
  return { ...p };
}

/**
 * Parses `os/arch[/variant]` (or `arch` alone, meaning linux) into a normalized platform.
 * @throws {@link SlipwayError} `ERR_INVALID_ARGUMENT` for an empty or malformed string.
 */
export function parsePlatform(s: string | Platform): Platform {
  if (typeof s !== 'string') {
    if (!s || typeof s.os !== 'string' || typeof s.architecture !== 'string' || !s.os || !s.architecture) {
      throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid platform ${JSON.stringify(s)}`, { hint: 'pass { os, architecture, variant? } or "linux/arm64/v8"' });
    }
    return normalizePlatform(s);
  }
  const parts = s.trim().toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw new SlipwayError('ERR_INVALID_ARGUMENT', `invalid platform ${JSON.stringify(s)}`, { hint: 'use os/architecture[/variant], e.g. "linux/amd64" or "linux/arm/v7"' });
  }
  if (parts.length === 1) return normalizePlatform({ os: 'linux', architecture: parts[0]! });
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

/** Normalizes aliases (`aarch64` → `arm64`, `x86_64` → `amd64`) and default variants (arm64 → v8, arm → v7). */
export function normalizePlatform(p: Platform): Platform {
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  if (arch === 'x86_64' || arch === 'x86-64') arch = 'amd64';
  if (arch === 'aarch64') arch = 'arm64';
  if (arch === 'armhf') [arch, variant] = ['arm', variant ?? 'v7'];
  if (arch === 'armel') [arch, variant] = ['arm', variant ?? 'v6'];
  if (arch === 'i386' || arch === 'i686') arch = '386';
  if (arch === 'arm64' && (variant === undefined || variant === '8')) variant = 'v8';
  if (arch === 'arm' && variant === undefined) variant = 'v7';
  if (arch === 'arm' && /^\d$/.test(variant ?? '')) variant = `v${variant}`;
  if (arch === 'amd64' && variant === 'v1') variant = undefined;
  return variant === undefined ? { os: p.os.toLowerCase(), architecture: arch } : { os: p.os.toLowerCase(), architecture: arch, variant };
}

/** `linux/arm64/v8`. */
export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Variants an image may have to run on `want`, best first (containers/image platform_matcher.go). */
function compatibleVariants(want: Platform): (string | undefined)[] {
  const v = want.variant;
  if (want.architecture === 'arm') {
    const order = ['v8', 'v7', 'v6', 'v5'];
    const i = Math.max(0, order.indexOf(v ?? 'v7'));
    return [...order.slice(i), undefined];
  }
  if (want.architecture === 'amd64') {
    const order = ['v4', 'v3', 'v2'];
    const i = order.indexOf(v ?? '');
    return [...(i === -1 ? [] : order.slice(i)), undefined];
  }
  return v === undefined ? [undefined] : [v, undefined];
}

/** A descriptor in an index, as far as platform selection cares. */
export interface PlatformEntry {
  digest: string;
  mediaType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** Whether an index entry is a BuildKit attestation (or otherwise not runnable). */
export function isAttestation(e: PlatformEntry): boolean {
  return e.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (e.platform?.os === 'unknown' && e.platform?.architecture === 'unknown');
}

/**
 * Chooses the entry for `want` from an index, preferring an exact variant and falling back to compatible ones.
 * @throws {@link SlipwayError} `ERR_PLATFORM_NOT_FOUND` listing the platforms available.
 */
export function selectPlatform<T extends PlatformEntry>(entries: T[], want: Platform, what = 'image'): T {
  const w = normalizePlatform(want);
  const candidates = entries.filter((e) => !isAttestation(e) && e.platform?.os && e.platform.architecture)
    .map((e) => ({ e, p: normalizePlatform(e.platform as Platform) }));
  for (const variant of compatibleVariants(w)) {
    const hit = candidates.find(({ p }) => p.os === w.os && p.architecture === w.architecture && p.variant === variant);
    if (hit) return hit.e;
  }
  const available = candidates.map(({ p }) => platformString(p));
  throw new SlipwayError('ERR_PLATFORM_NOT_FOUND', `${what} has no variant for ${platformString(w)}; available: ${available.length ? available.join(', ') : '(none)'}`, {
    hint: available.length ? `pass { platform: '${available[0]}' } if that can run here (e.g. with qemu-user binfmt), or use an image built for ${platformString(w)}` : 'the index lists no runnable platforms',
  });
}

/**
 * Checks a single-platform image (its config's `os`/`architecture`/`variant`) against a platform the caller asked for
 * by name: without this an image of another architecture would silently be run. Images whose config names no
 * platform pass.
 * @throws {@link SlipwayError} `ERR_PLATFORM_NOT_FOUND` naming the platform the image has.
 */
export function checkImagePlatform(have: { os?: string | undefined; architecture?: string | undefined; variant?: string | undefined }, want: Platform, what = 'image'): void {
  if (!have.os || !have.architecture) return;
  const w = normalizePlatform(want);
  const h = normalizePlatform({ os: have.os, architecture: have.architecture, variant: have.variant });
  if (h.os === w.os && h.architecture === w.architecture && compatibleVariants(w).includes(h.variant)) return;
  throw new SlipwayError('ERR_PLATFORM_NOT_FOUND', `${what} has no variant for ${platformString(w)}; available: ${platformString(h)}`, {
    hint: `ask for '${platformString(h)}' (or drop withPlatform()) if that can run here, or use an image built for ${platformString(w)}`,
  });
}
