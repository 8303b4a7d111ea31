/**
 * ADD's auto-extraction recognises the compressions Docker's does (moby's `DecompressStream`): gzip, bzip2, xz and
 * zstd, by their magic bytes. gzip is Node's zlib; the others run Debian's `bzip2`, `xz` and `zstd` programs (Node
 * has no decoder for them, and moby itself runs the `xz` program), fed the archive on stdin, no shell. Every
 * decompression is bounded: a small archive can expand to many GiB.
 */
import { spawn } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { SlipwayError } from '../errors.js';

interface Format {
  name: string;
  magic: readonly number[];
  /** The program and its arguments (decompress to stdout, quietly). */
  argv?: readonly string[];
  /** The Debian package that has the program. */
  pkg?: string;
}

const FORMATS: readonly Format[] = [
  { name: 'gzip', magic: [0x1f, 0x8b] },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], argv: ['bzip2', '-dcq'], pkg: 'bzip2' },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], argv: ['xz', '-dcq'], pkg: 'xz-utils' },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], argv: ['zstd', '-dcq'], pkg: 'zstd' },
];

function tooLarge(name: string, src: string, max: number, cause?: unknown): SlipwayError {
  return new SlipwayError('ERR_BUILD_CONTEXT', `ADD ${src}: a ${name} archive expands to more than ${max} bytes`, {
    hint: 'COPY the archive and extract it in a RUN step, or split it', cause,
  });
}

/** The compression of `b` by its magic bytes, or undefined for anything else (a plain tar included). */
export function compressionOf(b: Buffer): string | undefined {
  return FORMATS.find((f) => b.length > f.magic.length && f.magic.every((m, i) => b[i] === m))?.name;
}

/** Runs an external decompressor; undefined when it rejects the data (not really that format: copied as a file). */
function runDecompressor(f: Format, b: Buffer, src: string, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(f.argv![0]!, f.argv!.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        over = true;
        child.kill('SIGKILL');
        return;
      }
      chunks.push(c);
    });
    // EPIPE when the program stops reading (bad data, or killed above): its exit status tells.
    child.stdin.on('error', () => {});
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        reject(new SlipwayError('ERR_BUILD', `ADD ${src}: the archive is ${f.name}-compressed and extracting it needs the \`${f.argv![0]}\` program, which is not installed`, {
          hint: `install it (Debian/Ubuntu: apt-get install ${f.pkg}), or extract the archive before the build`, cause: e,
        }));
      } else {
        reject(e);
      }
    });
    child.on('close', (code) => {
      if (over) reject(tooLarge(f.name, src, max));
      else resolve(code === 0 ? Buffer.concat(chunks) : undefined);
    });
    child.stdin.end(b);
  });
}

/**
 * Decompresses `b` when it is gzip, bzip2, xz or zstd (at most `max` bytes out); returns `b` itself when it is none of
 * them, and undefined when it looks compressed but does not decompress (Docker then copies the file as it is).
 * @throws SlipwayError `ERR_BUILD_CONTEXT` when the output exceeds `max`; `ERR_BUILD` when the program is missing
 */
export async function decompress(b: Buffer, src: string, max: number): Promise<Buffer | undefined> {
  const name = compressionOf(b);
  if (name === undefined) return b;
  const f = FORMATS.find((x) => x.name === name)!;
  if (!f.argv) {
    try {
      return gunzipSync(b, { maxOutputLength: max });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('gzip', src, max, e);
      return undefined;
    }
  }
  return runDecompressor(f, b, src, max);
}
