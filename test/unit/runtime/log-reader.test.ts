import { mkdtemp, writeFile, appendFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLogLines, parseCriRecord } from '../../../src/runtime/log-reader.js';

const rec = (t: string, s: string, tag: string, text: string) => `2026-11-28T00:00:0${t}.123456789Z ${s} ${tag} ${text}\n`;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> { const out: T[] = []; for await (const x of it) out.push(x); return out; }

describe('log reader', () => {
  it('parses CRI records and rejects malformed ones', () => {
    expect(parseCriRecord(Buffer.from('2026-11-28T00:00:00.5Z stderr F hello world'))).toMatchObject({ stream: 'stderr', partial: false, text: Buffer.from('hello world') });
    expect(parseCriRecord(Buffer.from('garbage'))).toBeUndefined();
    expect(parseCriRecord(Buffer.from('2026 stdin F x'))).toBeUndefined();
  });
  it('decodes a UTF-8 character the keeper cut between two partial records (and between the rotated file and the new one) whole', async () => {
    // The keeper writes output in 16 KiB records wherever the cut falls: '€' is e2 82 ac. Each record was decoded
    // alone, so a cut character came out as two or three U+FFFD.
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    const bytes = (t: string, tag: string, b: Buffer) => Buffer.concat([Buffer.from(`2026-11-28T00:00:0${t}.1Z stdout ${tag} `), b, Buffer.from('\n')]);
    await writeFile(`${p}.1`, bytes('0', 'P', Buffer.from([0x61, 0xe2])));
    await writeFile(p, Buffer.concat([bytes('1', 'P', Buffer.from([0x82])), bytes('2', 'F', Buffer.from([0xac, 0x62])), bytes('3', 'P', Buffer.from([0x63, 0xe2, 0x82]))]));
    expect((await collect(readLogLines(p))).map((l) => [l.text, !!l.unterminated])).toEqual([['a€b', false], ['c\ufffd', true]]);
  });
  it('joins partial records, filters streams and time, includes the rotated file first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(`${p}.1`, rec('0', 'stdout', 'F', 'old'));
    await writeFile(p, rec('1', 'stdout', 'P', 'hel') + rec('2', 'stderr', 'F', 'err') + rec('3', 'stdout', 'F', 'lo'));
    expect((await collect(readLogLines(p))).map((l) => `${l.stream}:${l.text}`)).toEqual(['stdout:old', 'stderr:err', 'stdout:hello']);
    expect((await collect(readLogLines(p, { stderr: false }))).map((l) => l.text)).toEqual(['old', 'hello']);
    expect((await collect(readLogLines(p, { since: new Date('2026-11-28T00:00:02Z') }))).map((l) => l.text)).toEqual(['err', 'hello']);
  });
  it('reads a log whose writer had stopped (done() already true) whole in one look: rotated file, both streams, partial ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(`${p}.1`, rec('0', 'stdout', 'F', 'old'));
    await writeFile(p, rec('1', 'stderr', 'F', 'e1') + rec('2', 'stdout', 'P', 'no ') + rec('3', 'stderr', 'P', 'err') + rec('4', 'stdout', 'P', 'newline'));
    const lines = await collect(readLogLines(p, { done: () => true }));
    expect(lines.map((l) => `${l.stream}:${l.text}${l.unterminated ? '|' : ''}`)).toEqual(['stdout:old', 'stderr:e1', 'stdout:no newline|', 'stderr:err|']);
    // An empty log (a command that printed nothing) and a missing one are no lines.
    await writeFile(p, '');
    await rm(`${p}.1`);
    expect(await collect(readLogLines(p, { done: () => true }))).toEqual([]);
    await rm(p);
    expect(await collect(readLogLines(p, { done: () => true }))).toEqual([]);
  });
  it('reads a small log whose writer had stopped without an event-loop turn (run(): no thread-pool round trips)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(p, rec('1', 'stdout', 'F', 'out') + rec('2', 'stderr', 'P', 'no newline'));
    const lines: string[] = [];
    const read = (async () => { for await (const l of readLogLines(p, { done: () => true })) lines.push(`${l.stream}:${l.text}`); return 'read'; })();
    // Microtasks only: the whole read is done before the next turn's setImmediate (the old reader's open, stat and
    // read each took a thread-pool round trip).
    const turn = new Promise((r) => setImmediate(() => r('turn')));
    expect(await Promise.race([read, turn])).toBe('read');
    expect(lines).toEqual(['stdout:out', 'stderr:no newline']);
    // A writer still running (done() false) is read as before; a missing log is no lines either way.
    expect((await collect(readLogLines(p, { done: () => false }))).map((l) => l.text)).toEqual(['out', 'no newline']);
    await rm(p);
    const none = collect(readLogLines(p, { done: () => true }));
    expect(await Promise.race([none, new Promise((r) => setImmediate(() => r('turn')))])).toEqual([]);
  });
  it('cuts a line joined from partial records at 1 MiB: a container printing without newlines cannot grow a reader without bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    const piece = 'x'.repeat(16 << 10); // the keeper's partial records are 16 KiB
    const records: string[] = [];
    for (let i = 0; i < 320; i++) records.push(rec('1', 'stdout', 'P', piece)); // 5 MiB without a newline
    records.push(rec('2', 'stderr', 'F', 'between'));
    records.push(rec('3', 'stdout', 'F', 'end'));
    await writeFile(p, records.join(''));
    const lines = await collect(readLogLines(p, { done: () => true }));
    // The old reader joined all 5 MiB (a follower: gigabytes, until V8's RangeError) into one line.
    expect(Math.max(...lines.map((l) => l.text.length))).toBeLessThanOrEqual(1 << 20);
    const out = lines.filter((l) => l.stream === 'stdout');
    expect(out.slice(0, -1).every((l) => l.cut)).toBe(true);
    expect(out.at(-1)!.cut).toBeUndefined();
    expect(out.map((l) => l.text).join('')).toBe(`${piece.repeat(320)}end`);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['between']);
  });
  it('emits a trailing partial record (output without a final newline) as a line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(p, rec('1', 'stdout', 'F', 'a') + rec('2', 'stdout', 'P', 'no newline'));
    expect((await collect(readLogLines(p))).map((l) => l.text)).toEqual(['a', 'no newline']);
  });
  it('tail: the last n lines there are (rotated file included), then new ones when following', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(`${p}.1`, rec('0', 'stdout', 'F', 'old'));
    await writeFile(p, ['a', 'b', 'c', 'd'].map((t, i) => rec(String(i + 1), 'stdout', 'F', t)).join(''));
    expect((await collect(readLogLines(p, { tail: 2 }))).map((l) => l.text)).toEqual(['c', 'd']);
    expect((await collect(readLogLines(p, { tail: 9 }))).map((l) => l.text)).toEqual(['old', 'a', 'b', 'c', 'd']);
    expect(await collect(readLogLines(p, { tail: 0 }))).toEqual([]);
    let done = false;
    const lines: string[] = [];
    const reader = (async () => { for await (const l of readLogLines(p, { tail: 1, follow: true, done: () => done })) lines.push(l.text); })();
    while (lines.length < 1) await new Promise((r) => setTimeout(r, 10));
    await appendFile(p, rec('5', 'stdout', 'F', 'e'));
    while (lines.length < 2) await new Promise((r) => setTimeout(r, 10));
    done = true;
    await reader;
    expect(lines).toEqual(['d', 'e']);
  });
  it('follows until done, across a rotation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(p, rec('1', 'stdout', 'F', 'a'));
    let done = false;
    const lines: string[] = [];
    const reader = (async () => { for await (const l of readLogLines(p, { follow: true, done: () => done })) lines.push(l.text); })();
    await new Promise((r) => setTimeout(r, 60));
    await appendFile(p, rec('2', 'stdout', 'F', 'b'));
    await new Promise((r) => setTimeout(r, 60));
    await rename(p, `${p}.1`);
    await writeFile(p, rec('3', 'stdout', 'F', 'c'));
    await new Promise((r) => setTimeout(r, 60));
    done = true;
    await reader;
    expect(lines).toEqual(['a', 'b', 'c']);
  });
  it('a follower keeps the lines written just before a rotation or before the log was removed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'logs-'));
    const p = join(dir, 'ctr.log');
    await writeFile(p, rec('1', 'stdout', 'F', 'a'));
    let done = false;
    const lines: string[] = [];
    const reader = (async () => { for await (const l of readLogLines(p, { follow: true, done: () => done })) lines.push(l.text); })();
    while (lines.length < 1) await new Promise((r) => setTimeout(r, 10));
    await appendFile(p, rec('2', 'stdout', 'F', 'last of the old file'));
    await rename(p, `${p}.1`);
    await writeFile(p, rec('3', 'stdout', 'F', 'c'));
    while (lines.length < 3) await new Promise((r) => setTimeout(r, 10));
    // The owner removes the container (and its log) right after the last line: the open file still has it.
    await appendFile(p, rec('4', 'stdout', 'F', 'bye'));
    await rm(dir, { recursive: true });
    done = true;
    await reader;
    expect(lines).toEqual(['a', 'last of the old file', 'c', 'bye']);
  });
});
