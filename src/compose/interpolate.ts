import { SlipwayError } from '../errors.js';

/** Where a value came from, for error messages: `compose.yml: services.db.image`. */
export type Where = string;

/**
 * Variables for interpolation: `undefined` is unset, `''` is set and empty.
 * @example
 * import { ComposeEnvironment, type ComposeVariables } from 'slipway';
 * const vars: ComposeVariables = new ComposeEnvironment('./deploy').withEnvironmentFile('test.env').variables();
 * vars.TAG; // undefined when unset, '' when set and empty
 */
export type Variables = Readonly<Record<string, string | undefined>>;

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;

/**
 * Interpolates one string as the Compose Specification says (interpolation.md): `$VAR`, `${VAR}`, `${VAR:-default}`
 * (unset or empty), `${VAR-default}` (unset), `${VAR:?error}` / `${VAR?error}` (fail), `${VAR:+alt}` / `${VAR+alt}`
 * (replacement when set), `$$` for a literal `$`; defaults and replacements may nest further expressions.
 * An unset variable without a default is the empty string and is reported through `onUnset`.
 * @throws SlipwayError `ERR_COMPOSE_INVALID` for a malformed expression or a `?` whose variable is missing.
 */
export function interpolate(text: string, vars: Variables, where: Where, onUnset: (name: string) => void = () => {}): string {
  const { value, end } = scan(text, 0, { vars, where, onUnset, evaluate: true }, false);
  if (end !== text.length) throw bad(text, where, 'unexpected "}"');
  return value;
}

/** Scans from `i` until the end (or a closing `}` when `nested`); returns the interpolated text and the index it stopped at. */
interface Ctx { vars: Variables; where: Where; onUnset: (name: string) => void; /** false: only find the end (a word not taken is never evaluated). */ evaluate: boolean; /** `${…}` nesting so far. */ depth?: number }

/** Deeper nesting of defaults is refused (each level recurses; no real file nests more than a few). */
const MAX_DEPTH = 64;

function scan(text: string, i: number, ctx: Ctx, nested: boolean): { value: string; end: number } {
  const { vars, where, onUnset } = ctx;
  let out = '';
  while (i < text.length) {
    const c = text[i]!;
    if (nested && c === '}') return { value: out, end: i };
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const r = braced(text, i + 2, ctx);
      out += r.value;
      i = r.end;
    } else {
      const m = NAME.exec(text.slice(i + 1));
      if (!m) {
        // A lone `$` (end of text, or before a character that cannot start a name) stays as it is, as in compose-go.
        out += '$';
        i++;
        continue;
      }
      out += lookup(m[0], vars, onUnset);
      i += 1 + m[0].length;
    }
  }
  if (nested) throw bad(text, where, 'missing "}"');
  return { value: out, end: i };
}

function braced(text: string, i: number, ctx: Ctx): { value: string; end: number } {
  const { vars, where, onUnset } = ctx;
  const m = NAME.exec(text.slice(i));
  if (!m) throw bad(text, where, 'a variable name must follow "${"');
  const name = m[0];
  let j = i + name.length;
  if (text[j] === '}') return { value: lookup(name, vars, onUnset), end: j + 1 };
  if (j >= text.length) throw bad(text, where, 'missing "}"');
  const colon = text[j] === ':';
  if (colon) j++;
  const op = text[j];
  if (op !== '-' && op !== '?' && op !== '+') throw bad(text, where, `unknown operator after \${${name}`);
  if ((ctx.depth ?? 0) >= MAX_DEPTH) throw bad(text, where, `defaults nested more than ${MAX_DEPTH} levels deep`);
  const inner = { ...ctx, depth: (ctx.depth ?? 0) + 1 };
  // The word is interpolated only when used (as in a shell), but it must be scanned now to find its end. A scan
  // that only finds the end evaluates nothing: it evaluated each nested default's word again, twice per level, and
  // \`\${A:-\${A:-…x}}\` 30 levels deep (150 bytes of a hostile compose file) took hours of synchronous work.
  const word = scan(text, j + 1, { ...inner, onUnset: () => {}, evaluate: false }, true);
  const end = word.end + 1;
  if (!ctx.evaluate) return { value: '', end };
  const value = vars[name];
  const isSet = value !== undefined;
  const present = colon ? isSet && value !== '' : isSet;
  const lazy = () => scan(text, j + 1, inner, true).value;
  switch (op) {
    case '-': return { value: present ? value! : lazy(), end };
    case '+': return { value: present ? lazy() : '', end };
    default: {
      if (present || !ctx.evaluate) return { value: value ?? '', end };
      const msg = lazy();
      throw new SlipwayError('ERR_COMPOSE_INVALID', `${where}: required variable ${name} is ${isSet ? 'empty' : 'missing'}${msg ? `: ${msg}` : ''}`, {
        hint: `set ${name} in the environment, in .env, with withEnvironment({ ${name}: '…' }) or withEnvironmentFile()`,
      });
    }
  }
}

function lookup(name: string, vars: Variables, onUnset: (name: string) => void): string {
  const v = vars[name];
  if (v === undefined) {
    onUnset(name);
    return '';
  }
  return v;
}

function bad(text: string, where: Where, why: string): SlipwayError {
  return new SlipwayError('ERR_COMPOSE_INVALID', `${where}: invalid interpolation format in ${JSON.stringify(text)}: ${why}`, {
    hint: 'write $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR:+alt}, or $$ for a literal "$"',
  });
}

/** Interpolates every string value of a parsed document (keys are left alone, as compose does); `path` names the position. */
export function interpolateTree(node: unknown, vars: Variables, where: Where, onUnset: (name: string, at: string) => void, path = ''): unknown {
  if (typeof node === 'string') return interpolate(node, vars, `${where}: ${path || '(top)'}`, (n) => onUnset(n, path));
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, vars, where, onUnset, `${path}[${i}]`));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, vars, where, onUnset, path ? `${path}.${k}` : k);
    return out;
  }
  return node;
}
