/**
 * A tar reader that keeps names as bytes. tar-stream decodes PAX `path`/`linkpath` records as UTF-8, so two names
 * that are not UTF-8 (`q\xff`, `q\xfe`) both became `q\ufffd`; Go's archive/tar (the Docker engine's `GET
 * /archive`) writes such names as raw bytes in PAX records. Reads ustar, PAX (`x`, `g`) and GNU long names (`L`,
 * `K`), which is what Docker, Podman and GNU tar write.
 */

/** One archive entry as read; `name` and `linkname` are the archive's bytes, never decoded. */
export interface TarReadEntry {
  type: 'file' | 'directory' | 'symlink' | 'link' | 'other';
  name: Buffer;
  linkname: Buffer;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  size: number;
  /** The entry's content: read it before asking for the next entry (what is left unread is skipped then). */
  content: AsyncIterable<Buffer>;
}

const BLOCK = 512;

/** A malformed archive (bad checksum, cut short). */
export class TarReadError extends Error {
  override name = 'TarReadError';
}

/**
 * The entries of the tar archive `chunks`, in order, read as the caller pulls them.
 * @throws TarReadError for a header whose checksum is wrong or an archive that ends inside an entry
 * @example for await (const e of readTar(body)) console.log(e.name.toString('latin1'), e.size);
 */
export async function* readTar(chunks: AsyncIterable<Buffer>): AsyncGenerator<TarReadEntry> {
  const src = new Bytes(chunks);
  try {
    let global: Record<string, Buffer> = {};
    let local: Record<string, Buffer> = {};
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    for (;;) {
      const h = await src.take(BLOCK, true);
      if (!h || h.every((b) => b === 0)) return;
      if (checksum(h) !== octal(h, 148, 8)) throw new TarReadError('tar header checksum mismatch');
      const flag = String.fromCharCode(h[156]!);
      const size = numeric(h, 124, 12);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const body = (await src.take(padded, false))!.subarray(0, size);
        if (flag === 'x') local = pax(body);
        else if (flag === 'g') global = { ...global, ...pax(body) };
        else if (flag === 'L') longName = cstr(body, 0, body.length);
        else longLink = cstr(body, 0, body.length);
        continue;
      }
      const rec = { ...global, ...local };
      local = {};
      const ustar = h.subarray(257, 263).toString('latin1') === 'ustar\0';
      const prefix = ustar ? cstr(h, 345, 155) : Buffer.alloc(0);
      const name = rec.path ?? longName ?? (prefix.length ? Buffer.concat([prefix, Buffer.from('/'), cstr(h, 0, 100)]) : cstr(h, 0, 100));
      const linkname = rec.linkpath ?? longLink ?? cstr(h, 157, 100);
      longName = longLink = undefined;
      const realSize = rec.size ? Number(rec.size.toString('latin1')) : size;
      const type = flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'directory' : flag === '2' ? 'symlink' : flag === '1' ? 'link' : 'other';
      // Links, devices, FIFOs and directories carry no data whatever their header's size says (POSIX ustar).
      const bodySize = '123456'.includes(flag) ? 0 : realSize;
      let left = bodySize;
      const content = (async function* () {
        while (left > 0) {
          const chunk = await src.some(left);
          left -= chunk.length;
          yield chunk;
        }
      })();
      yield {
        type, name, linkname, size: bodySize, content,
        mode: numeric(h, 100, 8), uid: num(rec.uid) ?? numeric(h, 108, 8), gid: num(rec.gid) ?? numeric(h, 116, 8),
        mtime: new Date((num(rec.mtime) ?? numeric(h, 136, 12)) * 1000),
      };
      await src.skip(left + Math.ceil(bodySize / BLOCK) * BLOCK - bodySize);
    }
  } finally {
    await src.close();
  }
}

function num(b: Buffer | undefined): number | undefined {
  return b === undefined ? undefined : Number(b.toString('latin1'));
}

/** PAX records (`<len> <key>=<value>\n`); values kept as bytes. */
function pax(body: Buffer): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  let at = 0;
  while (at < body.length) {
    const sp = body.indexOf(0x20, at);
    if (sp < 0) break;
    const len = Number(body.subarray(at, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= sp - at || at + len > body.length) throw new TarReadError('malformed PAX record');
    const rec = body.subarray(sp + 1, at + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out[rec.subarray(0, eq).toString('utf8')] = Buffer.from(rec.subarray(eq + 1));
    at += len;
  }
  return out;
}

function cstr(b: Buffer, off: number, len: number): Buffer {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return Buffer.from(nul < 0 ? field : field.subarray(0, nul));
}

function octal(b: Buffer, off: number, len: number): number {
  const s = b.subarray(off, off + len).toString('latin1').replace(/[\0 ]+/g, ' ').trim();
  return s ? parseInt(s, 8) : 0;
}

/** An octal field, or GNU's base-256 (high bit set) for values octal cannot hold. */
function numeric(b: Buffer, off: number, len: number): number {
  if (!(b[off]! & 0x80)) return octal(b, off, len);
  let v = b[off]! & 0x7f;
  for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
  return v;
}

function checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

/** Exact-size reads over a chunk iterator. */
class Bytes {
  readonly #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.#it = chunks[Symbol.asyncIterator]();
  }

  async #fill(n: number): Promise<boolean> {
    const parts = [this.#buf];
    let have = this.#buf.length;
    while (have < n && !this.#ended) {
      const r = await this.#it.next();
      if (r.done) this.#ended = true;
      else {
        parts.push(r.value);
        have += r.value.length;
      }
    }
    this.#buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return have >= n;
  }

  /** `n` bytes; undefined at a clean end when `endOk`. */
  async take(n: number, endOk: boolean): Promise<Buffer | undefined> {
    if (!(await this.#fill(n))) {
      if (endOk && this.#buf.length === 0) return undefined;
      throw new TarReadError('tar archive cut short');
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Up to `max` bytes (at least one): what is buffered, else the next chunk. */
  async some(max: number): Promise<Buffer> {
    if (this.#buf.length === 0 && !(await this.#fill(1))) throw new TarReadError('tar archive cut short');
    const out = this.#buf.subarray(0, Math.min(max, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.some(n)).length;
  }

  async close(): Promise<void> {
    await this.#it.return?.();
  }
}
