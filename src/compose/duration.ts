import { SlipwayError } from '../errors.js';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Compose duration (`1m30s`, `10s`, `1.5s`, `250ms`; a bare number is seconds) in milliseconds.
 * @throws SlipwayError `ERR_COMPOSE_INVALID` naming where it was read.
 */
export function parseDuration(text: string, where: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  if (s === '' || end !== s.length) {
    throw new SlipwayError('ERR_COMPOSE_INVALID', `${where}: ${JSON.stringify(text)} is not a duration`, { hint: 'write a duration such as 10s, 1m30s or 500ms' });
  }
  return Math.round(total);
}
