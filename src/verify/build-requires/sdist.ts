import { posix } from "node:path";
import { createGunzip } from "node:zlib";
import { errorMessage, type Result } from "../../errors.js";
import { openZip } from "../zip-reader.js";

/** Caps on reading an sdist: past any of them the archive is unreadable, never half-read. */
export interface SdistLimits {
  /** Bytes a .tar.gz may unpack to before reading stops: where a gzip bomb ends. */
  maxUnpackedBytes: number;
  maxMembers: number;
  /** A pyproject.toml larger than this is not read. */
  maxPyprojectBytes: number;
  /** A pax or GNU long-name header larger than this makes the archive unreadable. */
  maxHeaderBytes: number;
}

export const DEFAULT_SDIST_LIMITS: SdistLimits = {
  maxUnpackedBytes: 256 * 1024 * 1024,
  maxMembers: 100_000,
  maxPyprojectBytes: 256 * 1024,
  maxHeaderBytes: 64 * 1024,
};

/** How a member is stored: only a regular file is ever read, a link is never followed. */
type Kind = "file" | "dir" | "other";

class ArchiveError extends Error {}

/**
 * The bytes of the pyproject.toml pip would read after unpacking this sdist — in the top directory
 * every member shares, as pip strips it — or undefined when there is none. Read from memory, never
 * unpacked to disk. The same file twice (or by another spelling of its path), or one that is a link,
 * a device or too large, makes it an error: what pip would then read is not certain.
 */
export async function readPyproject(filename: string, bytes: Buffer, limits: Partial<SdistLimits> = {}): Promise<Result<Buffer | undefined>> {
  const caps: SdistLimits = { ...DEFAULT_SDIST_LIMITS, ...limits };
  const found = new Candidates(caps);
  try {
    if (/\.tar\.gz$/i.test(filename)) await scanTarGz(bytes, caps, found);
    else if (/\.zip$/i.test(filename)) scanZip(bytes, caps, found);
    else return { ok: false, error: `${filename} is neither a .tar.gz nor a .zip sdist` };
  } catch (error) {
    if (error instanceof ArchiveError) return { ok: false, error: error.message };
    return { ok: false, error: `cannot unpack ${filename}: ${errorMessage(error)}` };
  }
  return found.result();
}

/** pip's split_leading_dir: the first path component and the rest. */
function splitLeadingDir(path: string): [string, string] {
  const stripped = path.replace(/^[/\\]+/, "");
  const slash = stripped.indexOf("/");
  const backslash = stripped.indexOf("\\");
  if (slash >= 0 && (backslash < 0 || slash < backslash)) return [stripped.slice(0, slash), stripped.slice(slash + 1)];
  if (backslash >= 0) return [stripped.slice(0, backslash), stripped.slice(backslash + 1)];
  return [stripped, ""];
}

function isPyproject(path: string): boolean {
  return path !== "" && posix.normalize(path.replace(/\\/g, "/")).replace(/\/+$/, "") === "pyproject.toml";
}

interface Candidate {
  kind: Kind;
  size: number;
  /** Whether it is pyproject.toml with the leading directory stripped (true) or as named (false). */
  stripped: boolean;
  data?: Buffer;
}

/** Tracks the members named pyproject.toml and whether all members share one top directory. */
class Candidates {
  private common: string | null | undefined;
  private members = 0;
  private readonly found: Candidate[] = [];

  constructor(private readonly caps: SdistLimits) {}

  /** Whether this member's data is wanted: only a regular candidate within the size cap. */
  add(name: string, kind: Kind, size: number): Candidate[] {
    if (++this.members > this.caps.maxMembers) throw new ArchiveError(`the archive has more than ${this.caps.maxMembers} members`);
    const [leading, rest] = splitLeadingDir(name);
    if (leading === "") this.common = null;
    else if (this.common === undefined) this.common = leading;
    else if (this.common !== leading) this.common = null;
    const mine: Candidate[] = [];
    if (isPyproject(name)) mine.push({ kind, size, stripped: false });
    if (isPyproject(rest)) mine.push({ kind, size, stripped: true });
    if (this.found.length + mine.length > 8) throw new ArchiveError("the archive names pyproject.toml too many times");
    this.found.push(...mine);
    return mine;
  }

  wants(candidates: Candidate[]): boolean {
    return candidates.some((c) => c.kind === "file" && c.size <= this.caps.maxPyprojectBytes);
  }

  result(): Result<Buffer | undefined> {
    const stripped = this.common !== null && this.common !== undefined;
    const chosen = this.found.filter((c) => c.stripped === stripped);
    if (chosen.length === 0) return { ok: true, value: undefined };
    if (chosen.length > 1) return { ok: false, error: "the archive holds pyproject.toml more than once" };
    const [only] = chosen;
    if (only === undefined || only.kind !== "file") return { ok: false, error: "pyproject.toml is not a regular file (a link is never followed)" };
    if (only.data === undefined) return { ok: false, error: `pyproject.toml is larger than ${this.caps.maxPyprojectBytes} bytes` };
    return { ok: true, value: only.data };
  }
}

function scanZip(bytes: Buffer, caps: SdistLimits, found: Candidates): void {
  const opened = openZip(bytes, { maxEntries: caps.maxMembers, maxTotalSize: caps.maxUnpackedBytes });
  if (!opened.ok) throw new ArchiveError(opened.error);
  const archive = opened.value;
  if (archive.problems.length > 0) throw new ArchiveError(archive.problems[0] ?? "the archive is malformed");
  for (const entry of archive.entries) {
    const type = (entry.externalAttrs >>> 16) & 0o170000;
    const kind: Kind = entry.name.endsWith("/") || type === 0o040000 ? "dir" : type === 0 || type === 0o100000 ? "file" : "other";
    const mine = found.add(entry.name, kind, entry.size);
    if (!found.wants(mine)) continue;
    const data = archive.read(entry);
    if (!data.ok) throw new ArchiveError(data.error);
    for (const candidate of mine) candidate.data = data.value;
  }
}

/** Pulls exact byte counts from the gunzip stream, counting every byte unpacked against the cap. */
class Pull {
  private chunks: Buffer[] = [];
  private have = 0;
  private unpacked = 0;
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly cap: number,
  ) {}

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (next.done === true) {
      this.ended = true;
      return false;
    }
    this.unpacked += next.value.length;
    if (this.unpacked > this.cap) throw new ArchiveError(`the archive unpacks to more than ${this.cap} bytes (a gzip bomb?)`);
    this.chunks.push(next.value);
    this.have += next.value.length;
    return true;
  }

  /** Exactly n bytes, or undefined at the end of the stream. */
  async take(n: number): Promise<Buffer | undefined> {
    while (this.have < n) if (!(await this.more())) return undefined;
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** Drops n bytes without keeping them; false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    for (;;) {
      while (left > 0 && this.chunks.length > 0) {
        const head = this.chunks[0] as Buffer;
        if (head.length <= left) {
          left -= head.length;
          this.have -= head.length;
          this.chunks.shift();
        } else {
          this.chunks[0] = head.subarray(left);
          this.have -= left;
          left = 0;
        }
      }
      if (left === 0) return true;
      if (!(await this.more())) return false;
    }
  }
}

const BLOCK = 512;
/** Types whose data follows the header, as Python's tarfile reads them (it skips no data for the rest). */
const WITH_DATA = new Set(["0", "\0", "7", "S"]);
const KNOWN = new Set(["0", "\0", "7", "1", "2", "3", "4", "5", "6", "S", "x", "g", "L", "K"]);
const UTF8 = new TextDecoder("utf-8", { fatal: true });

function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  try {
    return UTF8.decode(nul < 0 ? raw : raw.subarray(0, nul));
  } catch {
    throw new ArchiveError("a tar header holds a name that is not UTF-8");
  }
}

function octal(block: Buffer, offset: number, length: number, what: string): number {
  const raw = block.subarray(offset, offset + length);
  if (((raw[0] ?? 0) & 0x80) !== 0) throw new ArchiveError(`a tar header's ${what} uses base-256, which is not supported`);
  const text = raw
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (!/^[0-7]*$/.test(text)) throw new ArchiveError(`a tar header's ${what} is not octal`);
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = octal(block, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** The records of a pax header: `LEN key=value\n` each. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const length = space < 0 ? NaN : Number(data.toString("latin1", pos, space));
    if (!Number.isInteger(length) || length <= 0 || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
      if (data.subarray(pos).every((byte) => byte === 0)) break;
      throw new ArchiveError("a pax header is malformed");
    }
    let record: string;
    try {
      record = UTF8.decode(data.subarray(space + 1, pos + length - 1));
    } catch {
      throw new ArchiveError("a pax header is not UTF-8");
    }
    const equals = record.indexOf("=");
    if (equals <= 0) throw new ArchiveError("a pax header is malformed");
    records.set(record.slice(0, equals), record.slice(equals + 1));
    pos += length;
  }
  return records;
}

async function scanTarGz(bytes: Buffer, caps: SdistLimits, found: Candidates): Promise<void> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new ArchiveError("not a gzip file");
  const gunzip = createGunzip();
  gunzip.end(bytes);
  try {
    await scanTar(new Pull(gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>, caps.maxUnpackedBytes), caps, found);
  } finally {
    gunzip.destroy();
  }
}

async function scanTar(pull: Pull, caps: SdistLimits, found: Candidates): Promise<void> {
  let longName: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    const block = await pull.take(BLOCK);
    if (block === undefined) throw new ArchiveError("the tar archive ends without its end-of-archive blocks");
    if (block.every((byte) => byte === 0)) return;
    if (!checksumOk(block)) throw new ArchiveError("a tar header's checksum is wrong");
    const type = String.fromCharCode(block[156] ?? 0);
    let size = octal(block, 124, 12, "size");
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > caps.maxHeaderBytes) throw new ArchiveError(`a tar extension header is larger than ${caps.maxHeaderBytes} bytes`);
      const data = await pull.take(size);
      if (data === undefined || !(await pull.skip((BLOCK - (size % BLOCK)) % BLOCK))) throw new ArchiveError("the tar archive is truncated");
      if (type === "x") pax = paxRecords(data);
      else if (type === "g") {
        const records = paxRecords(data);
        if (records.has("path") || records.has("size")) throw new ArchiveError("a global pax header sets a path or a size");
      } else if (type === "L") {
        const nul = data.indexOf(0);
        try {
          longName = UTF8.decode(nul < 0 ? data : data.subarray(0, nul));
        } catch {
          throw new ArchiveError("a GNU long name is not UTF-8");
        }
      }
      continue;
    }
    let name = field(block, 0, 100);
    const prefix = field(block, 345, 155);
    // As Python's tarfile: a V7 directory is a regular entry with a trailing slash; a prefix is prepended.
    const dir = type === "5" || (type === "\0" && name.endsWith("/"));
    if (prefix !== "" && type !== "S") name = `${prefix}/${name}`;
    if (longName !== undefined) name = longName;
    const paxPath = pax.get("path");
    if (paxPath !== undefined) name = paxPath;
    const paxSize = pax.get("size");
    if (paxSize !== undefined) {
      if (!/^\d{1,15}$/.test(paxSize)) throw new ArchiveError("a pax header's size is not a number");
      size = Number(paxSize);
    }
    longName = undefined;
    pax = new Map();
    const kind: Kind = dir ? "dir" : type === "0" || type === "\0" || type === "7" ? "file" : "other";
    // Python's tarfile reads an unknown type's data as a regular file's; skip it the same way.
    const hasData = !dir && (WITH_DATA.has(type) || !KNOWN.has(type));
    const mine = found.add(name, kind, size);
    const padded = hasData ? size + ((BLOCK - (size % BLOCK)) % BLOCK) : 0;
    if (hasData && found.wants(mine)) {
      const data = await pull.take(size);
      if (data === undefined) throw new ArchiveError("the tar archive is truncated");
      for (const candidate of mine) candidate.data = data;
      if (!(await pull.skip(padded - size))) throw new ArchiveError("the tar archive is truncated");
    } else if (!(await pull.skip(padded))) throw new ArchiveError("the tar archive is truncated");
  }
}
