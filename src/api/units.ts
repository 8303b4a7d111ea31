import { invalidArgument } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses Docker-style sizes: `512`, `'128m'`, `'1g'`, `'64k'`, `'1.5g'` (binary units, case-insensitive, optional `b`). */
export function parseByteSize(option: string, value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) throw invalidArgument(option, value, 'a positive number of bytes or a size such as "128m"');
    return value;
  }
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim()) : null;
  if (!m) throw invalidArgument(option, value, 'a size such as "512k", "128m" or "1g"');
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalidArgument(option, value, 'a positive size such as "128m"');
  return bytes;
}

/** Parses a CPU count such as `0.5`, `'2'`; at least 0.01 CPUs. */
export function parseCpuCount(option: string, value: string | number): number {
  const n = typeof value === 'number' ? value : /^\d+(\.\d+)?$/.test(String(value).trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0.01 || n > 1024) throw invalidArgument(option, value, 'a number of CPUs between 0.01 and 1024, such as 0.5');
  return n;
}
