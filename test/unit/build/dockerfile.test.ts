import { describe, expect, it } from 'vitest';
import { parseDockerfile, splitWords } from '../../../src/build/dockerfile.js';
import { SlipwayError } from '../../../src/errors.js';

describe('parseDockerfile', () => {
  it('reads directives, comments, continuations (comments and blank lines inside dropped) and keywords case-insensitively', () => {
    const df = parseDockerfile([
      '# syntax=docker/dockerfile:1',
      '# escape=\\',
      '',
      'from busybox AS base',
      '# a comment',
      'RUN echo a \\',
      '  # comment inside',
      '',
      '  && echo b',
      'env A=1',
    ].join('\n'));
    expect(df.directives).toEqual({ syntax: 'docker/dockerfile:1', escape: '\\' });
    expect(df.instructions.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ['FROM', 'busybox AS base', 4],
      ['RUN', 'echo a   && echo b', 6],
      ['ENV', 'A=1', 10],
    ]);
  });

  it('honours `# escape=`` (Windows style) and ignores directives after the first instruction', () => {
    const df = parseDockerfile('# escape=`\nFROM x\nRUN a `\n b\n# escape=\\\nRUN c \\');
    expect(df.escape).toBe('`');
    expect(df.instructions[1]!.args).toBe('a  b');
    expect(df.instructions[2]!.args).toBe('c \\');
  });

  it('splits flags from arguments (repeated and quoted flags too)', () => {
    const df = parseDockerfile('FROM --platform=linux/amd64 busybox\nCOPY --from=build --chown=1:2 --link a b\nRUN --mount=type=cache,target=/x --mount=type=tmpfs,target=/t true');
    expect(df.instructions[0]!.flags).toEqual({ platform: ['linux/amd64'] });
    expect(df.instructions[1]!.flags).toEqual({ from: ['build'], chown: ['1:2'], link: ['true'] });
    expect(df.instructions[1]!.args).toBe('a b');
    expect(df.instructions[2]!.flags.mount).toEqual(['type=cache,target=/x', 'type=tmpfs,target=/t']);
  });

  it('recognises exec (JSON) form only when it is a JSON array of strings', () => {
    const df = parseDockerfile('CMD ["a", "b c"]\nCMD [a, b]\nENTRYPOINT ["x", 1]\nRUN ["sh","-c","true"]');
    expect(df.instructions.map((i) => i.json)).toEqual([['a', 'b c'], undefined, undefined, ['sh', '-c', 'true']]);
  });

  it('reads heredocs: several per line, <<- strips tabs, quoted delimiters do not expand', () => {
    const df = parseDockerfile('FROM x\nRUN <<EOF\necho hi\n  echo $A\nEOF\nCOPY <<-"ONE" <<TWO /dst/\n\tfirst\n\tONE\nsecond\nTWO\nUSER 1');
    const run = df.instructions[1]!;
    expect(run.heredocs).toEqual([{ name: 'EOF', content: 'echo hi\n  echo $A\n', expand: true, chomp: false }]);
    const copy = df.instructions[2]!;
    expect(copy.heredocs.map((h) => [h.name, h.content, h.expand])).toEqual([['ONE', 'first\n', false], ['TWO', 'second\n', true]]);
    expect(df.instructions[3]!.keyword).toBe('USER');
  });

  it('errors name the line and the instruction', () => {
    const err = (t: string): string => {
      try {
        parseDockerfile(t);
      } catch (e) {
        expect(SlipwayError.is(e, 'ERR_DOCKERFILE_PARSE')).toBe(true);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('FROM x\n\nFOO bar')).toMatch(/line 3 \(FOO\): unknown instruction FOO/);
    expect(err('FROM x\nRUN <<EOF\nnever closed')).toMatch(/line 2 \(RUN\): heredoc <<EOF is not terminated/);
    expect(err('FROM x\nWORKDIR')).toMatch(/line 2 \(WORKDIR\): WORKDIR requires at least one argument/);
  });
});

describe('splitWords', () => {
  it('keeps quotes and escapes inside words', () => {
    expect(splitWords('A="a b" B=c\\ d C=\'e f\'')).toEqual(['A="a b"', 'B=c\\ d', "C='e f'"]);
  });
});

describe('flags', () => {
  it('takes each instruction\'s BuildKit flags and refuses an unknown one naming the line, as BuildKit does', () => {
    const df = parseDockerfile('FROM --platform=$BUILDPLATFORM x\nCOPY --link --exclude=*.md --exclude=!keep.md --chmod=0644 . /app\nADD --unpack=false --checksum=sha256:00 a.tgz /\n');
    expect(df.instructions.map((i) => i.flags)).toEqual([
      { platform: ['$BUILDPLATFORM'] }, { link: ['true'], exclude: ['*.md', '!keep.md'], chmod: ['0644'] }, { unpack: ['false'], checksum: ['sha256:00'] },
    ]);
    expect(() => parseDockerfile('FROM x\nCOPY --form=a b /c\n')).toThrow(/line 2 \(COPY\): unknown flag: --form/);
    expect(() => parseDockerfile('FROM x\nRUN --mnt=type=cache,target=/c true\n')).toThrow(/line 2 \(RUN\): unknown flag: --mnt/);
    expect(() => parseDockerfile('FROM --plaform=linux/amd64 x\n')).toThrow(/line 1 \(FROM\): unknown flag: --plaform/);
  });
});
