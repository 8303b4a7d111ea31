/**
 * What Docker's classic builder (the engine's `POST /build` without BuildKit) cannot do, refused with the Dockerfile's
 * line before the engine build sends its context.
 */
import { SlipwayError } from '../errors.js';
import type { Instruction } from './dockerfile.js';

/** Flags of Docker's classic builder (the engine's `POST /build` without BuildKit); the others are BuildKit's. */
const CLASSIC_FLAGS: Readonly<Record<string, readonly string[]>> = {
  FROM: ['platform'], COPY: ['from', 'chown'], ADD: ['chown'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'retries'],
};

/**
 * What Docker's classic builder lacks, refused before the context is sent (its own error would be a parse error of
 * the heredoc's body, or "requires BuildKit"). `globals`: the ARGs before the first FROM (`splitStages`).
 * @throws SlipwayError `ERR_UNSUPPORTED` naming the line and the feature.
 */
export function refuseWhatTheClassicBuilderLacks(instructions: readonly Instruction[], globals: readonly Instruction[]): void {
  const globalArgs = new Set(globals.flatMap((ins) => ins.args.split(/\s+/).map((w) => w.split('=')[0]!)));
  for (const ins of instructions) {
    let what: string | undefined;
    if (ins.heredocs.length) what = `${ins.keyword} <<${ins.heredocs[0]!.name}`;
    // BuildKit defines BUILDPLATFORM/TARGETARCH… for FROM; the classic builder expands only declared global ARGs there.
    const automatic = /\$\{?((?:BUILD|TARGET)(?:PLATFORM|OS|ARCH|VARIANT))\b/.exec(ins.keyword === 'FROM' ? (ins.flags.platform ?? []).join(' ') : '');
    if (automatic && !globalArgs.has(automatic[1]!)) {
      throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (FROM --platform=$${automatic[1]}): not supported on the engine runtime: ${automatic[1]} is one of BuildKit's automatic platform ARGs, which Docker's classic builder (the Engine API's POST /build without BuildKit) does not define`, {
        hint: `declare it before the first FROM (ARG ${automatic[1]}) and pass it as a build arg, or build with SLIPWAY_RUNTIME=native`,
      });
    }
    const flag = Object.keys(ins.flags).find((f) => !(CLASSIC_FLAGS[ins.keyword] ?? []).includes(f));
    what ??= flag === undefined ? undefined : `${ins.keyword} --${flag}`;
    if (what === undefined) continue;
    throw new SlipwayError('ERR_UNSUPPORTED', `Dockerfile line ${ins.line} (${what}): not supported on the engine runtime: the engine's builder is Docker's classic builder (the Engine API's POST /build without BuildKit), which has no heredocs, COPY/ADD --chmod/--link/--exclude/--checksum/--unpack/--keep-git-dir/--parents, nor RUN --mount/--network/--security`, {
      hint: 'write the step without it, or build with SLIPWAY_RUNTIME=native',
    });
  }
}
