/** Argument helpers shared by the command parsers (args.ts, compose-args.ts). */
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

/** Index of the first argument that is not an option or an option's value (`args.length` if none). */
export function firstPositional(args: readonly string[], options: ParseArgsConfig['options']): number {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options ?? {})) {
    if (o.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-' || !a.startsWith('-')) return i;
    if (takesValue.has(a)) i++; // `-e K=V`, `--memory 128m`; `--memory=128m` and `-eK=V` carry their value
  }
  return args.length;
}

/** `-e K=V` sets; `-e K` copies K from slipway's own environment (as `docker run -e K`). */
export function parseEnv(items: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '' || key.includes('\0')) throw new UsageError(`invalid -e ${JSON.stringify(item)}`, 'use -e NAME=value (or -e NAME to pass the variable through)');
    if (eq >= 0) out[key] = item.slice(eq + 1);
    else if (env[key] !== undefined) out[key] = env[key]!;
  }
  return out;
}

