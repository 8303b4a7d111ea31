/**
 * Variable substitution in Dockerfile words, as BuildKit's shell lexer (`frontend/dockerfile/shell/lex.go`) does it:
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}`,
 * `${VAR?message}`; single quotes keep everything literal, double quotes allow expansion; the escape character makes
 * the next character literal (inside double quotes only before `"`, `$` and itself). Quotes are removed.
 */
import { SlipwayError } from '../errors.js';

/** Variables visible to a substitution: unset names are absent. */
export type Vars = ReadonlyMap<string, string>;

class Lexer {
  i = 0;
  constructor(readonly s: string, readonly vars: Vars, readonly escape: string) {}

  peek(): string | undefined {
    return this.s[this.i];
  }

  /** Reads until one of `stops` (unquoted, unescaped) or the end; returns the words (split when `split`). */
  run(stops: string, split: boolean): string[] {
    const words: string[] = [];
    let word = '';
    let inWord = false;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (stops.includes(c)) break;
      this.i++;
      if (split && /\s/.test(c)) {
        if (inWord) words.push(word);
        word = '';
        inWord = false;
        continue;
      }
      inWord = true;
      if (c === this.escape) {
        if (this.i < this.s.length) word += this.s[this.i++];
      } else if (c === "'") {
        const end = this.s.indexOf("'", this.i);
        if (end < 0) throw lexError(this.s, 'unexpected end of input: missing closing \'');
        word += this.s.slice(this.i, end);
        this.i = end + 1;
      } else if (c === '"') {
        word += this.doubleQuoted();
      } else if (c === '$') {
        word += this.dollar();
      } else {
        word += c;
      }
    }
    if (inWord || !split) words.push(word);
    return words;
  }

  doubleQuoted(): string {
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) throw lexError(this.s, 'unexpected end of input: missing closing "');
      const c = this.s[this.i++]!;
      if (c === '"') return out;
      if (c === '$') {
        out += this.dollar();
      } else if (c === this.escape) {
        const n = this.s[this.i];
        if (n === '"' || n === '$' || n === this.escape) {
          out += n;
          this.i++;
        } else {
          out += c;
        }
      } else {
        out += c;
      }
    }
  }

  dollar(): string {
    const c = this.peek();
    if (c === '{') {
      this.i++;
      const name = this.name();
      if (!name) throw lexError(this.s, 'bad substitution: ${} needs a variable name');
      const next = this.s[this.i++];
      if (next === '}') return this.vars.get(name) ?? '';
      let op = next ?? '';
      if (op === ':') op += this.s[this.i++] ?? '';
      if (![':-', '-', ':+', '+', ':?', '?'].includes(op)) throw lexError(this.s, `unsupported modifier ${JSON.stringify(op)} in \${${name}${op}…}`);
      const word = this.run('}', false)[0] ?? '';
      if (this.s[this.i] !== '}') throw lexError(this.s, `missing } after \${${name}`);
      this.i++;
      const value = this.vars.get(name);
      const set = value !== undefined;
      const nonEmpty = set && value !== '';
      switch (op) {
        case ':-': return nonEmpty ? value : word;
        case '-': return set ? value : word;
        case ':+': return nonEmpty ? word : '';
        case '+': return set ? word : '';
        case ':?':
          if (!nonEmpty) throw new SlipwayError('ERR_BUILD', `${name}: ${word || 'is not set or empty'}`, { hint: `set ${name} (a build arg or ENV)` });
          return value;
        default:
          if (!set) throw new SlipwayError('ERR_BUILD', `${name}: ${word || 'is not set'}`, { hint: `set ${name} (a build arg or ENV)` });
          return value;
      }
    }
    const name = this.name();
    if (!name) return '$';
    return this.vars.get(name) ?? '';
  }

  name(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9]/.exec(this.s.slice(this.i));
    if (!m) return '';
    this.i += m[0].length;
    return m[0];
  }
}

function lexError(s: string, message: string): SlipwayError {
  return new SlipwayError('ERR_DOCKERFILE_PARSE', `${message} in ${JSON.stringify(s)}`, { hint: 'fix the quoting or the ${…} expression' });
}

/** Expands one word (quotes removed, blanks kept). */
export function expandWord(s: string, vars: Vars, escape = '\\'): string {
  return new Lexer(s, vars, escape).run('', false)[0] ?? '';
}

/** Expands and splits into words on unquoted blanks (Docker's `ProcessWords`, for COPY/ADD/EXPOSE/VOLUME…). */
export function expandWords(s: string, vars: Vars, escape = '\\'): string[] {
  return new Lexer(s, vars, escape).run('', true);
}
