/**
 * A synchronous, push-driven tar parser for layer unpacking (the hot path of a pull). It reads what tar-stream 3's
 * `extract()` read before it (ustar and GNU headers, PAX `x`/`g` records, GNU long names `L`/`K`, the same header
 * checks and the same error messages), but hands an entry's data to its sink as subarrays of the chunk pushed in: no
 * stream per entry, no promise per chunk, no copy unless a header straddles two chunks. Where tar-stream misread, it
 * reads as Go's archive/tar (Docker) does: an old-style directory (type NUL, name ending in '/'); an empty long
 * record sets nothing, and one of negative size is refused (tar-stream read the following blocks out of step).
 * tar-stream stays for copy archives and docker-archive (`internal/tar-entry.ts` `entryData`).
 */

/** An entry's type, as tar-stream names it; `null` for a type flag it does not know (skipped by the unpacker). */
export type LayerEntryType =
  | 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo' | 'contiguous-file';

/** One entry's header, with long names and PAX records applied (tar-stream's `Headers`, the fields unpack reads). */
export interface LayerTarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  type: LayerEntryType | null;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  pax: Record<string, string> | null;
}

/** Receives one entry's data, in order, then `end()`. */
export interface LayerTarSink {
  data(chunk: Buffer): void;
  end(): void;
}

/** A malformed archive; the message is tar-stream's for the same fault. */
export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

const BLOCK = 512;
/** Largest PAX or long-name record (tar-stream's bound). */
const MAX_HEADER_SIZE = 4 * 1024 * 1024;
const USTAR = Buffer.from('ustar\0', 'latin1');
const GNU = Buffer.from('ustar ', 'latin1');
const GNU_VER = Buffer.from(' \0', 'latin1');

const TYPES: Array<LayerEntryType | null> = ['file', 'link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo', 'contiguous-file'];

type Special = 'pax-header' | 'pax-global-header' | 'gnu-long-link-path' | 'gnu-long-path';

function specialType(flag: number): Special | null {
  switch (flag) {
    case 72: return 'pax-header';
    case 55: return 'pax-global-header';
    case 27: return 'gnu-long-link-path';
    case 28:
    case 30: return 'gnu-long-path';
    default: return null;
  }
}

function cksum(b: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let j = 156; j < BLOCK; j++) sum += b[j]!;
  return sum;
}

function parse256(b: Buffer): number | null {
  let positive: boolean;
  if (b[0] === 0x80) positive = true;
  else if (b[0] === 0xff) positive = false;
  else return null;
  let sum = 0;
  for (let i = b.length - 1, k = 0; i > 0; i--, k++) sum += (positive ? b[i]! : 0xff - b[i]!) * Math.pow(256, k);
  return positive ? sum : -1 * sum;
}

function decodeOct(buf: Buffer, offset: number, length: number): number {
  const val = buf.subarray(offset, offset + length);
  if (val[0]! & 0x80) return parse256(val) as number;
  let o = 0;
  while (o < val.length && val[o] === 32) o++;
  let end = o;
  while (end < val.length && val[end] !== 32) end++;
  while (o < end && val[o] === 0) o++;
  if (end === o) return 0;
  return parseInt(val.toString('latin1', o, end), 8);
}

function decodeStr(buf: Buffer, offset: number, length: number): string {
  let end = offset;
  const max = offset + length;
  while (end < max && buf[end] !== 0) end++;
  return buf.toString('utf8', offset, end);
}

function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = parseInt(buf.toString('utf8', 0, i), 10);
    if (!len) return result;
    const b = buf.subarray(i + 1, len - 1).toString('utf8');
    const keyIndex = b.indexOf('=');
    if (keyIndex === -1) return result;
    result[b.slice(0, keyIndex)] = b.slice(keyIndex + 1);
    buf = buf.subarray(len);
  }
  return result;
}

const overflow = (size: number): number => {
  const s = size & 511;
  return s && BLOCK - s;
};

/**
 * Parses a tar stream pushed chunk by chunk. `onEntry` is called for each entry with its header and returns a sink for
 * its data (or nothing to skip the data); everything runs synchronously inside {@link LayerTarParser.push}, so an
 * exception from a sink or a {@link TarFormatError} leaves `push` at once.
 */
export class LayerTarParser {
  /** Bytes of a header (or long record) gathered across chunks. */
  private pending: Buffer | undefined;
  private pendingLen = 0;
  /** Bytes of entry data still to hand to `sink`. */
  private dataLeft = 0;
  private sink: LayerTarSink | undefined;
  private skipLeft = 0;
  /** A long record (PAX, GNU name) being gathered, with its size. */
  private longType: Special | null = null;
  private longSize = 0;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private gnuLongPath: string | null = null;
  private gnuLongLinkPath: string | null = null;

  constructor(private readonly onEntry: (h: LayerTarHeader) => LayerTarSink | undefined) {}

  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, len - off);
        const piece = chunk.subarray(off, off + n);
        off += n;
        this.dataLeft -= n;
        this.sink?.data(piece);
        if (this.dataLeft === 0) this.finishEntry();
        continue;
      }
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, len - off);
        off += n;
        this.skipLeft -= n;
        continue;
      }
      const need = this.longType ? this.longSize : BLOCK;
      let block: Buffer;
      if (this.pendingLen === 0 && len - off >= need) {
        block = chunk.subarray(off, off + need);
        off += need;
      } else {
        if (!this.pending || this.pending.length < need) {
          const p = Buffer.allocUnsafe(Math.max(need, BLOCK));
          if (this.pending) this.pending.copy(p, 0, 0, this.pendingLen);
          this.pending = p;
        }
        const n = Math.min(need - this.pendingLen, len - off);
        chunk.copy(this.pending, this.pendingLen, off, off + n);
        this.pendingLen += n;
        off += n;
        if (this.pendingLen < need) continue;
        block = this.pending.subarray(0, need);
        this.pendingLen = 0;
      }
      if (this.longType) this.longRecord(block);
      else this.header(block);
    }
  }

  /** The input is complete: throws if it ended inside a header, a record or an entry (tar-stream's check). */
  end(): void {
    if (this.dataLeft > 0 || this.skipLeft > 0 || this.pendingLen > 0 || this.longType) throw new TarFormatError('Unexpected end of data');
  }

  private finishEntry(): void {
    const s = this.sink;
    this.sink = undefined;
    s?.end();
  }

  private longRecord(buf: Buffer): void {
    const type = this.longType!;
    this.longType = null;
    this.skipLeft = overflow(this.longSize);
    switch (type) {
      case 'gnu-long-path':
        this.gnuLongPath = decodeStr(buf, 0, buf.length);
        break;
      case 'gnu-long-link-path':
        this.gnuLongLinkPath = decodeStr(buf, 0, buf.length);
        break;
      case 'pax-global-header':
        this.paxGlobal = decodePax(buf);
        break;
      case 'pax-header':
        this.pax = this.paxGlobal === null ? decodePax(buf) : Object.assign({}, this.paxGlobal, decodePax(buf));
        break;
    }
  }

  private header(buf: Buffer): void {
    const c = cksum(buf);
    // A zero block (checksum of nothing but the blank checksum field): skipped, as tar-stream does.
    if (c === 8 * 32) return;
    if (c !== decodeOct(buf, 148, 8)) throw new TarFormatError('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');
    const flag = buf[156] === 0 ? 0 : buf[156]! - 48;
    let name = decodeStr(buf, 0, 100);
    if (USTAR.equals(buf.subarray(257, 263))) {
      if (buf[345]) name = `${decodeStr(buf, 345, 155)}/${name}`;
    } else if (!(GNU.equals(buf.subarray(257, 263)) && GNU_VER.equals(buf.subarray(263, 265)))) {
      throw new TarFormatError('Invalid tar header: unknown format.');
    }
    const size = decodeOct(buf, 124, 12);
    const special = specialType(flag);
    if (special) {
      if (size > MAX_HEADER_SIZE) throw new TarFormatError('Header exceeds max size');
      if (!(size >= 0)) throw new TarFormatError('Invalid header');
      if (size === 0) return; // an empty record sets nothing

      this.longType = special;
      this.longSize = size;
      return;
    }
    const h: LayerTarHeader = {
      name,
      mode: decodeOct(buf, 100, 8),
      uid: decodeOct(buf, 108, 8),
      gid: decodeOct(buf, 116, 8),
      size,
      mtime: new Date(1000 * decodeOct(buf, 136, 12)),
      type: TYPES[flag] ?? null,
      linkname: buf[157] === 0 ? null : decodeStr(buf, 157, 100),
      devmajor: decodeOct(buf, 329, 8),
      devminor: decodeOct(buf, 337, 8),
      pax: null,
    };
    if (this.gnuLongPath) {
      h.name = this.gnuLongPath;
      this.gnuLongPath = null;
    }
    if (this.gnuLongLinkPath) {
      h.linkname = this.gnuLongLinkPath;
      this.gnuLongLinkPath = null;
    }
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.linkpath) h.linkname = this.pax.linkpath;
      if (this.pax.size) h.size = parseInt(this.pax.size, 10);
      h.pax = this.pax;
      this.pax = null;
    }
    // An old archive's directory: type NUL (not '0') and a name ending in '/', the name after long names and PAX
    // applied, as Go's archive/tar (Docker) reads it; it has no data, like any directory. d53eecf took '0' for NUL
    // too: a '0' entry `x/` with data is a file to Docker (and was to tar-stream), and its data was read here as
    // headers, so a layer could carry entries only slipway unpacked, hidden from Docker and from scanners.
    if (buf[156] === 0 && h.name.endsWith('/')) h.type = 'directory';
    if (!(h.size >= 0)) throw new TarFormatError('Invalid header');
    const sink = this.onEntry(h);
    // tar-stream gives a directory no data whatever its size says (the bytes after it are read as headers).
    if (h.size === 0 || h.type === 'directory') {
      sink?.end();
      return;
    }
    this.sink = sink;
    this.dataLeft = h.size;
    this.skipLeft = overflow(h.size);
  }
}
