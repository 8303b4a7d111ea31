import { SlipwayError } from '../errors.js';
import { interpolate, type Variables } from './interpolate.js';
import { readInputFileSync } from '../internal/read-input-file.js';

/**
 * Parses a `.env` / `env_file` file as compose does: `KEY=value`, `export KEY=value`, `#` comments (after a space when
 * unquoted), 'single quotes' literal, "double quotes" with `\n`, `\t`, `\"`, `\\` escapes, values interpolated against
 * `vars` plus the keys read so far (not inside single quotes). A bare `KEY` takes its value from `vars` (dropped when unset).
 * @throws SlipwayError `ERR_COMPOSE_INVALID` naming the file and line for a malformed line or an unterminated quote.
 */
export function parseEnvFile(text: string, file: string, vars: Variables = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const scope = (): Variables => ({ ...vars, ...out });
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([^=\s#]+)\s*(=)?\s*([\s\S]*)$/.exec(line);
    if (!m) throw badLine(file, n, raw);
    const key = m[1]!;
    if (!/^[^\0=]+$/.test(key)) throw badLine(file, n, raw);
    if (!m[2]) {
      if (m[3]!.trim() !== '') throw badLine(file, n, raw);
      const v = vars[key];
      if (v !== undefined) out[key] = v;
      continue;
    }
    let rest = m[3]!;
    const where = `${file}:${n + 1}`;
    if (rest.startsWith("'") || rest.startsWith('"')) {
      const q = rest[0]!;
      // A quoted value may span lines.
      let body = rest.slice(1);
      let close = findClose(body, q);
      while (close < 0 && n + 1 < lines.length) {
        body += `\n${lines[++n]}`;
        close = findClose(body, q);
      }
      if (close < 0) throw new SlipwayError('ERR_COMPOSE_INVALID', `${where}: unterminated ${q === '"' ? 'double' : 'single'} quote`, { hint: `close the value with ${q}` });
      const inner = body.slice(0, close);
      out[key] = q === "'" ? inner : interpolate(unescape(inner), scope(), where);
      continue;
    }
    const hash = rest.search(/\s#/);
    if (hash >= 0) rest = rest.slice(0, hash);
    out[key] = interpolate(rest.trim(), scope(), where);
  }
  return out;
}

/** Reads and parses an env file. @throws SlipwayError `ERR_COMPOSE_INVALID` when it cannot be read. */
export function readEnvFile(path: string, vars: Variables = {}): Record<string, string> {
  let text: string;
  try {
    text = readInputFileSync(path);
  } catch (e) {
    throw new SlipwayError('ERR_COMPOSE_INVALID', `cannot read env file ${path}: ${(e as Error).message}`, { hint: 'check the path (relative paths are resolved against the project directory)', cause: e });
  }
  return parseEnvFile(text, path, vars);
}

function findClose(body: string, q: string): number {
  for (let i = 0; i < body.length; i++) {
    if (q === '"' && body[i] === '\\') {
      i++;
      continue;
    }
    if (body[i] === q) return i;
  }
  return -1;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/gs, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', $: '$$' } as Record<string, string>)[c] ?? `\\${c}`);
}

function badLine(file: string, n: number, raw: string): SlipwayError {
  return new SlipwayError('ERR_COMPOSE_INVALID', `${file}:${n + 1}: cannot parse ${JSON.stringify(raw.slice(0, 80))}`, { hint: 'write KEY=value, one per line (# starts a comment)' });
}
