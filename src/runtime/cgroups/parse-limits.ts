import { availableParallelism } from 'node:os';
import { invalidArgument } from '../../errors.js';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};
const MEMORY_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i;
const MEMORY_FORMAT = 'a positive number of bytes or a size such as "512k", "128m", "1.5g" (binary units b, k, m, g, t)';

/**
 * Parses a memory size the way `docker run --memory` does (binary units, case-insensitive).
 *
 * @param value - bytes as a number, or a string such as `"128m"`, `"1g"`, `"512MiB"`.
 * @param option - the option name used in the error message.
 * @param allowUnlimited - accept `-1` / `"-1"` (meaning unlimited, used for memory+swap).
 * @param min - the smallest size accepted, in bytes (a memory limit below {@link MIN_MEMORY} cannot run anything).
 * @returns the size in bytes (an integer; fractions of a byte are rounded down).
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` naming the option, the value and the expected format.
 * @example parseMemory('128m') // 134217728
 */
export function parseMemory(value: string | number, option = 'memory', { allowUnlimited = false, min = 1 } = {}): number {
  const expected = allowUnlimited ? `${MEMORY_FORMAT}, or -1 for unlimited` : MEMORY_FORMAT;
  const atLeast = (bytes: number): number => {
    if (bytes < min) throw invalidArgument(option, value, `at least ${formatBytes(min)} (${min} bytes): ${expected}`);
    return bytes;
  };
  if (typeof value === 'number') {
    if (allowUnlimited && value === -1) return -1;
    if (!Number.isSafeInteger(value) || value <= 0) throw invalidArgument(option, value, expected);
    return atLeast(value);
  }
  if (typeof value !== 'string') throw invalidArgument(option, value, expected);
  const text = value.trim();
  if (allowUnlimited && text === '-1') return -1;
  const m = MEMORY_RE.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalidArgument(option, value, expected);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalidArgument(option, value, expected);
  return atLeast(bytes);
}

/** The smallest memory limit accepted (Docker's minimum): below it not even a shell starts in the cgroup. */
export const MIN_MEMORY = 6 * 1024 * 1024;

function formatBytes(n: number): string {
  for (const [unit, size] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) if (n % size === 0) return `${n / size}${unit}`;
  return `${n}b`;
}

const CPUS_RE = /^(\d+(?:\.\d+)?|\.\d+)$/;
const CPUS_FORMAT = 'a number of CPUs of at least 0.01, such as 0.5 or "2"';

/**
 * Parses a CPU count the way `docker run --cpus` does.
 *
 * @returns the number of CPUs (at least 0.01).
 * @param max - the most CPUs accepted (as Docker: a quota above the host's CPUs cannot be used). @defaultValue the host's CPUs
 * @throws SlipwayError `ERR_INVALID_ARGUMENT` for negative, zero, non-numeric, non-finite values or more than `max`.
 * @example parseCpus('0.5') // 0.5
 */
export function parseCpus(value: string | number, option = 'cpus', { max = availableParallelism() } = {}): number {
  const expected = `${CPUS_FORMAT}, and at most ${max} (the CPUs of this host)`;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && CPUS_RE.test(value.trim())) n = Number(value.trim());
  else throw invalidArgument(option, value, expected);
  if (!Number.isFinite(n) || n < 0.01 || n > max) throw invalidArgument(option, value, expected);
  return n;
}
