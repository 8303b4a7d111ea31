/**
 * Dockerfile parser: Docker's grammar as BuildKit's `frontend/dockerfile/parser` reads it — parser directives
 * (`# syntax=`, `# escape=`), comments (also inside continuations), line continuations with the escape character,
 * flags (`--from=x`), JSON (exec) form, and heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`). It only splits the text into
 * instructions; variable substitution and the meaning of each instruction belong to the builder.
 *
 * Our own small module rather than `dockerfile-ast`: that package is an editor AST (ranges, diagnostics, LSP types)
 * whose heredoc support is partial, and we would still have to interpret flags, JSON form and heredoc bodies.
 */
import { SlipwayError } from '../errors.js';

/** A heredoc attached to an instruction (`<<EOF` … `EOF`). */
export interface Heredoc {
  /** The delimiter word without quotes. */
  name: string;
  /** The body: the lines between the instruction and the delimiter, each ending with `\n`. */
  content: string;
  /** Whether variables in the body are expanded (the delimiter was not quoted). */
  expand: boolean;
  /** `<<-`: leading tabs were stripped from every body line. */
  chomp: boolean;
}

/** One instruction of a Dockerfile. */
export interface Instruction {
  /** Upper-case keyword (`RUN`, `COPY`…). */
  keyword: string;
  /** `--name=value` flags before the arguments (`--link` alone gives `'true'`). Repeated flags keep every value. */
  flags: Record<string, string[]>;
  /** The arguments after the flags, continuations joined (no substitution done). */
  args: string;
  /** The arguments as a JSON array of strings when written in exec form. */
  json?: string[];
  heredocs: Heredoc[];
  /** 1-based line where the instruction starts. */
  line: number;
  /** The instruction as written, continuations joined (for history and errors). */
  original: string;
}

/** A parsed Dockerfile. */
export interface ParsedDockerfile {
  /** Parser directives by lower-case name (`syntax`, `escape`, `check`). */
  directives: Record<string, string>;
  escape: '\\' | '`';
  instructions: Instruction[];
}

const KNOWN = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD',
  'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);
/** Instructions that take `--flags` before their arguments, and the flags BuildKit's stable syntax gives each. */
const FLAGS: Record<string, readonly string[]> = {
  ADD: ['chown', 'chmod', 'link', 'checksum', 'exclude', 'keep-git-dir', 'unpack'],
  COPY: ['from', 'chown', 'chmod', 'link', 'exclude', 'parents'],
  FROM: ['platform'],
  RUN: ['mount', 'network', 'security'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};
/** Instructions whose arguments may be a JSON array. */
const JSON_FORM = new Set(['ADD', 'COPY', 'CMD', 'ENTRYPOINT', 'RUN', 'SHELL', 'VOLUME']);
/** Instructions that may carry heredocs. */
const HEREDOC = new Set(['ADD', 'COPY', 'RUN']);

function parseError(line: number, keyword: string | undefined, message: string): SlipwayError {
  return new SlipwayError('ERR_DOCKERFILE_PARSE', `Dockerfile line ${line}${keyword ? ` (${keyword})` : ''}: ${message}`, {
    hint: 'fix the Dockerfile; see https://docs.docker.com/reference/dockerfile/',
  });
}

/** Reads the parser directives at the top (before any instruction, blank line or other comment). */
function readDirectives(lines: string[]): { directives: Record<string, string>; next: number } {
  const directives: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!['syntax', 'escape', 'check'].includes(key)) break;
    if (key in directives) throw parseError(i + 1, undefined, `the "${key}" directive is given twice`);
    directives[key] = m[2]!;
  }
  return { directives, next: i };
}

/**
 * Parses Dockerfile text.
 * @throws SlipwayError `ERR_DOCKERFILE_PARSE` naming the line and the instruction.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const { directives } = readDirectives(lines);
  const esc = directives.escape ?? '\\';
  if (esc !== '\\' && esc !== '`') throw parseError(1, undefined, `invalid escape directive ${JSON.stringify(esc)}: use \\ or \``);
  const escape = esc as '\\' | '`';
  const instructions: Instruction[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    if (/^\s*$/.test(raw) || /^\s*#/.test(raw)) {
      i++;
      continue;
    }
    const start = i;
    // Join continuations: a line ending with the escape character (trailing blanks allowed) continues;
    // comment lines and empty lines inside a continuation are dropped, as Docker does.
    let joined = '';
    let cur = raw;
    for (;;) {
      const trimmed = cur.replace(/[ \t]+$/, '');
      if (trimmed.endsWith(escape)) {
        joined += trimmed.slice(0, -1);
        i++;
        while (i < lines.length && (/^\s*#/.test(lines[i]!) || /^\s*$/.test(lines[i]!))) i++;
        if (i >= lines.length) break;
        cur = lines[i]!;
        continue;
      }
      joined += cur;
      i++;
      break;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(joined)!;
    const keyword = m[1]!.toUpperCase();
    let rest = m[2]!.trim();
    if (!KNOWN.has(keyword)) throw parseError(start + 1, keyword, `unknown instruction ${m[1]}`);
    const flags: Record<string, string[]> = {};
    const known = FLAGS[keyword];
    if (known) {
      for (;;) {
        const f = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?(?:\s+|$)/.exec(rest);
        if (!f) break;
        if (!known.includes(f[1]!)) throw parseError(start + 1, keyword, `unknown flag: --${f[1]}`);
        let v = f[2] ?? 'true';
        if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = JSON.parse(v) as string;
        (flags[f[1]!] ??= []).push(v);
        rest = rest.slice(f[0].length);
      }
    }
    const heredocs: Heredoc[] = [];
    if (HEREDOC.has(keyword)) {
      const re = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;
      for (let h = re.exec(rest); h; h = re.exec(rest)) {
        const chomp = h[1] === '-';
        const name = h[3]!;
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          let l = lines[i++]!;
          if (chomp) l = l.replace(/^\t+/, '');
          if (l === name) {
            closed = true;
            break;
          }
          body.push(`${l}\n`);
        }
        if (!closed) throw parseError(start + 1, keyword, `heredoc <<${name} is not terminated (no line "${name}")`);
        heredocs.push({ name, content: body.join(''), expand: h[2] === '', chomp });
      }
    }
    let json: string[] | undefined;
    if (JSON_FORM.has(keyword) && rest.startsWith('[')) {
      try {
        const v: unknown = JSON.parse(rest);
        if (Array.isArray(v) && v.every((s) => typeof s === 'string')) json = v as string[];
      } catch {
        // Not JSON: shell form, as Docker falls back.
      }
    }
    if (keyword !== 'ONBUILD' && rest === '' && heredocs.length === 0 && !['CMD', 'ENTRYPOINT', 'HEALTHCHECK'].includes(keyword)) {
      throw parseError(start + 1, keyword, `${keyword} requires at least one argument`);
    }
    instructions.push({ keyword, flags, args: rest, json, heredocs, line: start + 1, original: joined.trim() });
  }
  return { directives, escape, instructions };
}

/**
 * Splits a shell-form argument string into words on unquoted blanks, keeping quotes and escapes in the words
 * (Docker's `parseWords`, used for ENV/LABEL key=value lists before substitution).
 */
export function splitWords(s: string, escape: string = '\\'): string[] {
  const out: string[] = [];
  let word = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (!quote && /\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && quote !== "'" && i + 1 < s.length) {
      word += c + s[++i]!;
      continue;
    }
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    }
    word += c;
  }
  if (inWord) out.push(word);
  return out;
}
