import { invalidArgument } from '../errors.js';

export function checkPort(option: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
    throw invalidArgument(option, value, `an integer port between ${allowZero ? 0 : 1} and 65535`);
  }
  return value;
}

/** Parses `6379`, `'6379'`, `'6379/tcp'`, `'53/udp'` into a port and protocol. */
export function parsePortSpec(option: string, spec: number | string): { port: number; protocol: 'tcp' | 'udp' } {
  if (typeof spec === 'number') return { port: checkPort(option, spec), protocol: 'tcp' };
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(String(spec));
  if (!m) throw invalidArgument(option, spec, 'a port such as 6379, "6379/tcp" or "53/udp"');
  return { port: checkPort(option, Number(m[1])), protocol: (m[2] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}
