/**
 * What the engine's builders cannot do — Docker's classic builder (the engine's `POST /build` without BuildKit) and
 * Docker 20.10's BuildKit — refused with the Dockerfile's line before the engine build sends its context.
 */
import { SlipwayError } from '../errors.js';
import type { Instruction } from './dockerfile.js';

/** Flags of Docker's classic builder (the engine's `POST /build` without BuildKit); the others are BuildKit's. */
const CLASSIC_FLAGS: Readonly<Record<string, readonly string[]>> = {
  FROM: ['platform'], COPY: ['from', 'chown'], ADD: ['chown'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'retries'],
};

/**
 * What the Dockerfile frontend built into Docker 20.10's BuildKit (dockerfile 1.2) adds: RUN --mount (secret, cache,
 * bind, tmpfs) and COPY/ADD --chmod, and it defines the automatic platform ARGs. Heredocs, --link and later flags came
 * with later frontends (Docker 23+); they are refused on every Docker, as only 20.10 was tried.
 */
const BUILDKIT_FLAGS: Readonly<Record<string, readonly string[]>> = {
  ...CLASSIC_FLAGS, RUN: ['mount'], COPY: ['from', 'chown', 'chmod'], ADD: ['chown', 'chmod'],
};

/**
 * What the engine's builder lacks for this Dockerfile: `classic` is Docker's classic builder (`POST /build`, and
 * Podman's), `buildkit` Docker's BuildKit (`version=2`); `globals`: the ARGs before the first FROM (`splitStages`).
 * Undefined when it has everything.
 */
export function whatTheEngineBuilderLacks(instructions: readonly Instruction[], globals: readonly Instruction[], builder: 'classic' | 'buildkit'): SlipwayError | undefined {
  const allowed = builder === 'classic' ? CLASSIC_FLAGS : BUILDKIT_FLAGS;
  const globalArgs = new Set(globals.flatMap((ins) => ins.args.split(/\s+/).map((w) => w.split('=')[0]!)));
  for (const ins of instructions) {
    let what: string | undefined;
    if (ins.heredocs.length) what = `${ins.keyword} <<${ins.heredocs[0]!.name}`;
    // BuildKit defines BUILDPLATFORM/TARGETARCH… for FROM; the classic builder expands only declared global ARGs there.
    const automatic = /\$\{?((?:BUILD|TARGET)(?:PLATFORM|OS|ARCH|VARIANT))\b/.exec(ins.keyword === 'FROM' ? (ins.flags.platform ?? []).join(' ') : '');
    if (builder === 'classic' && automatic && !globalArgs.has(automatic[1]!)) {
      return new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (FROM --platform=$${automatic[1]}): not supported on the engine runtime: ${automatic[1]} is one of BuildKit's automatic platform ARGs, which Docker's classic builder (the Engine API's POST /build without BuildKit) does not define`, {
        hint: `declare it before the first FROM (ARG ${automatic[1]}) and pass it as a build arg, or build with SLIPWAY_RUNTIME=native`,
      });
    }
    const flag = Object.keys(ins.flags).find((f) => !(allowed[ins.keyword] ?? []).includes(f));
    what ??= flag === undefined ? undefined : `${ins.keyword} --${flag}`;
    if (what === undefined) continue;
    return builder === 'classic'
      ? new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (${what}): not supported on the engine runtime: the engine's builder is Docker's classic builder (the Engine API's POST /build without BuildKit), which has no heredocs, COPY/ADD --chmod/--link/--exclude/--checksum/--unpack/--keep-git-dir/--parents, nor RUN --mount/--network/--security`, {
        hint: 'write the step without it, or build with SLIPWAY_RUNTIME=native',
      })
      : new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (${what}): not supported on the engine runtime: the Dockerfile frontend of the engine's BuildKit (Docker 20.10's, dockerfile 1.2) has RUN --mount and COPY/ADD --chmod, but no heredocs, COPY/ADD --link/--exclude/--checksum/--unpack/--keep-git-dir/--parents, nor RUN --network/--security`, {
        hint: 'write the step without it, or build with SLIPWAY_RUNTIME=native',
      });
  }
  return undefined;
}
