import { crc32, inflateRawSync } from "node:zlib";

import { errorMessage, type Result } from "../errors.js";

/** One entry of the central directory: what a wheel says it holds, before any byte is inflated. */
export interface ZipEntry {
  name: string;
  compressedSize: number;
  size: number;
  crc32: number;
  /** 0 stored, 8 deflate; anything else is refused on read. */
  method: number;
  /** High 16 bits are the Unix mode when the archive was made on Unix: how symlinks hide in zips. */
  externalAttrs: number;
  /** Offset of the entry's local header. */
  offset: number;
}

/** Caps that keep a hostile archive from exhausting memory or time; every one is a refusal, not a clamp. */
export interface ZipLimits {
  maxEntries: number;
  /** Sum of declared uncompressed sizes. */
  maxTotalSize: number;
  /** Highest uncompressed/compressed ratio for an entry larger than `ratioFloor`. */
  maxRatio: number;
  /** Entries up to this size may compress as well as they like: small files cannot make a bomb. */
  ratioFloor: number;
}

/** The defaults: far above any real wheel (pip's own is 500 files, 6 MB), far below harm. */
export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 20_000,
  maxTotalSize: 1024 * 1024 * 1024,
  maxRatio: 100,
  ratioFloor: 1024 * 1024,
};

/**
 * An opened archive. `problems` holds what is wrong but still readable (duplicate names, overlapping
 * entries, a bomb-like ratio …), one line each naming the entry; entries with a problem refuse `read`.
 */
export interface ZipArchive {
  entries: ZipEntry[];
  problems: string[];
  read(entry: ZipEntry): Result<Buffer>;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

interface Placed {
  entry: ZipEntry;
  dataStart: number;
  refused?: string;
}

/** Finds the end record; it must end the file exactly (its comment included), so nothing trails it. */
function findEnd(bytes: Buffer): Result<number> {
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - 0xffff);
  for (let i = bytes.length - EOCD_SIZE; i >= lowest; i--) {
    if (bytes.readUInt32LE(i) === EOCD_SIGNATURE && i + EOCD_SIZE + bytes.readUInt16LE(i + 20) === bytes.length) {
      return { ok: true, value: i };
    }
  }
  return { ok: false, error: "not a zip archive, or truncated: no end-of-central-directory record at its end" };
}

function decodeName(raw: Buffer, flags: number): Result<string> {
  const ascii = raw.every((byte) => byte < 0x80);
  if (!ascii && (flags & FLAG_UTF8) === 0) {
    return { ok: false, error: "non-ASCII name not marked UTF-8 (readers would decode it differently)" };
  }
  try {
    return { ok: true, value: UTF8.decode(raw) };
  } catch {
    return { ok: false, error: "name is not valid UTF-8" };
  }
}

interface Central {
  entries: Placed[];
  problems: string[];
}

/** Reads the central directory records; a record that cannot be parsed makes the archive unreadable. */
function readCentral(bytes: Buffer, start: number, end: number, count: number, limits: ZipLimits): Result<Central> {
  const entries: Placed[] = [];
  const problems: string[] = [];
  let pos = start;
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (pos + CENTRAL_SIZE > end || bytes.readUInt32LE(pos) !== CENTRAL_SIGNATURE) {
      return { ok: false, error: `central directory record ${n + 1} of ${count} is missing or corrupt` };
    }
    const flags = bytes.readUInt16LE(pos + 8);
    const nameLength = bytes.readUInt16LE(pos + 28);
    const recordEnd = pos + CENTRAL_SIZE + nameLength + bytes.readUInt16LE(pos + 30) + bytes.readUInt16LE(pos + 32);
    if (recordEnd > end) return { ok: false, error: `central directory record ${n + 1} runs past the directory` };
    const decoded = decodeName(bytes.subarray(pos + CENTRAL_SIZE, pos + CENTRAL_SIZE + nameLength), flags);
    const name = decoded.ok ? decoded.value : bytes.toString("latin1", pos + CENTRAL_SIZE, pos + CENTRAL_SIZE + nameLength);
    const entry: ZipEntry = {
      name,
      compressedSize: bytes.readUInt32LE(pos + 20),
      size: bytes.readUInt32LE(pos + 24),
      crc32: bytes.readUInt32LE(pos + 16),
      method: bytes.readUInt16LE(pos + 10),
      externalAttrs: bytes.readUInt32LE(pos + 38),
      offset: bytes.readUInt32LE(pos + 42),
    };
    if (entry.compressedSize === 0xffffffff || entry.size === 0xffffffff || entry.offset === 0xffffffff) {
      return { ok: false, error: `${name}: ZIP64 entries are not supported` };
    }
    if (bytes.readUInt16LE(pos + 34) !== 0) return { ok: false, error: `${name}: multi-disk archives are not supported` };
    total += entry.size;
    if (total > limits.maxTotalSize) {
      return { ok: false, error: `declared uncompressed size exceeds the cap of ${limits.maxTotalSize} bytes (zip bomb?)` };
    }
    const placed: Placed = { entry, dataStart: -1 };
    const refuse = (why: string): void => {
      placed.refused ??= `${name}: ${why}`;
      problems.push(`${name}: ${why}`);
    };
    if (!decoded.ok) refuse(decoded.error);
    if ((flags & FLAG_ENCRYPTED) !== 0) refuse("encrypted entries are not supported");
    if (entry.method !== 0 && entry.method !== 8) refuse(`unsupported compression method ${entry.method}`);
    if (entry.method === 0 && entry.compressedSize !== entry.size) refuse("stored entry whose sizes differ");
    const ratio = entry.size / Math.max(entry.compressedSize, 1);
    if (entry.size > limits.ratioFloor && ratio > limits.maxRatio) {
      refuse(`compression ratio ${Math.round(ratio)}:1 exceeds the cap of ${limits.maxRatio}:1 (zip bomb?)`);
    }
    entries.push(placed);
    pos = recordEnd;
  }
  if (pos !== end) return { ok: false, error: "central directory size disagrees with its records" };
  return { ok: true, value: { entries, problems } };
}

/** Checks each local header against its central record and finds where the data starts. */
function placeLocal(bytes: Buffer, placed: Placed, centralStart: number, problems: string[]): void {
  const { entry } = placed;
  const refuse = (why: string): void => {
    placed.refused ??= `${entry.name}: ${why}`;
    problems.push(`${entry.name}: ${why}`);
  };
  const at = entry.offset;
  if (at + LOCAL_SIZE > centralStart || bytes.readUInt32LE(at) !== LOCAL_SIGNATURE) {
    refuse("local header missing or corrupt");
    return;
  }
  const flags = bytes.readUInt16LE(at + 6);
  const nameLength = bytes.readUInt16LE(at + 26);
  const dataStart = at + LOCAL_SIZE + nameLength + bytes.readUInt16LE(at + 28);
  if (dataStart + entry.compressedSize > centralStart) {
    refuse("data runs past the central directory (truncated or corrupt)");
    return;
  }
  placed.dataStart = dataStart;
  const localName = bytes.subarray(at + LOCAL_SIZE, at + LOCAL_SIZE + nameLength);
  const decoded = decodeName(localName, flags);
  if (!decoded.ok || decoded.value !== entry.name) {
    refuse(`local header names it ${JSON.stringify(decoded.ok ? decoded.value : localName.toString("latin1"))}`);
  }
  if (bytes.readUInt16LE(at + 8) !== entry.method) refuse("local and central headers disagree on compression method");
  if ((flags & FLAG_DATA_DESCRIPTOR) === 0) {
    const agree =
      bytes.readUInt32LE(at + 14) === entry.crc32 && bytes.readUInt32LE(at + 18) === entry.compressedSize && bytes.readUInt32LE(at + 22) === entry.size;
    if (!agree) refuse("local and central headers disagree on CRC or sizes");
  }
}

/** Overlapping entries are how non-recursive zip bombs (and parser confusion) are built. */
function findOverlaps(placed: Placed[], problems: string[]): void {
  const spans = placed.filter((p) => p.dataStart >= 0).sort((a, b) => a.entry.offset - b.entry.offset);
  // Compare with the furthest end so far, not only the neighbour: one huge entry can cover many.
  const end = (p: Placed): number => p.dataStart + p.entry.compressedSize;
  let furthest: Placed | undefined;
  for (const current of spans) {
    if (furthest !== undefined && current.entry.offset < end(furthest)) {
      const why = `overlaps ${furthest.entry.name} in the archive`;
      current.refused ??= `${current.entry.name}: ${why}`;
      problems.push(`${current.entry.name}: ${why}`);
    }
    if (furthest === undefined || end(current) > end(furthest)) furthest = current;
  }
}

/** Same name twice, or names one case-insensitive (or Unicode-normalising) filesystem would merge. */
function findCollisions(entries: ZipEntry[], problems: string[]): void {
  const exact = new Set<string>();
  const folded = new Map<string, string>();
  for (const { name } of entries) {
    if (exact.has(name)) {
      problems.push(`${name}: appears more than once in the archive`);
      continue;
    }
    exact.add(name);
    const key = name.normalize("NFC").toLowerCase();
    const other = folded.get(key);
    if (other !== undefined) problems.push(`${name}: differs from ${other} only in case or Unicode form`);
    else folded.set(key, name);
  }
}

function inflate(bytes: Buffer, placed: Placed): Result<Buffer> {
  const { entry } = placed;
  const raw = bytes.subarray(placed.dataStart, placed.dataStart + entry.compressedSize);
  let data: Buffer;
  try {
    // One byte of headroom, so that a stream longer than declared shows up as a size mismatch.
    data = entry.method === 0 ? Buffer.from(raw) : inflateRawSync(raw, { maxOutputLength: entry.size + 1 });
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      return { ok: false, error: `${entry.name}: inflates to more than the declared ${entry.size} bytes` };
    }
    return { ok: false, error: `${entry.name}: cannot inflate (${errorMessage(error)})` };
  }
  if (data.length !== entry.size) {
    return { ok: false, error: `${entry.name}: inflates to a size other than the declared ${entry.size} bytes` };
  }
  if (crc32(data) !== entry.crc32) return { ok: false, error: `${entry.name}: CRC-32 mismatch` };
  return { ok: true, value: data };
}

/**
 * Opens a zip archive held in memory, strictly: only what can be read unambiguously is read, so that
 * what is inspected here is what an installer would unpack. Nothing is inflated until `read`.
 */
export function openZip(bytes: Buffer, limits: Partial<ZipLimits> = {}): Result<ZipArchive> {
  const caps: ZipLimits = { ...DEFAULT_ZIP_LIMITS, ...limits };
  const found = findEnd(bytes);
  if (!found.ok) return found;
  const eocd = found.value;
  if (eocd >= 20 && bytes.readUInt32LE(eocd - 20) === ZIP64_LOCATOR_SIGNATURE) {
    return { ok: false, error: "ZIP64 archives are not supported" };
  }
  const disk = bytes.readUInt16LE(eocd + 4);
  const centralDisk = bytes.readUInt16LE(eocd + 6);
  const countOnDisk = bytes.readUInt16LE(eocd + 8);
  const count = bytes.readUInt16LE(eocd + 10);
  const centralSize = bytes.readUInt32LE(eocd + 12);
  const centralStart = bytes.readUInt32LE(eocd + 16);
  if (count === 0xffff || centralSize === 0xffffffff || centralStart === 0xffffffff) {
    return { ok: false, error: "ZIP64 archives are not supported" };
  }
  if (disk !== 0 || centralDisk !== 0 || countOnDisk !== count) {
    return { ok: false, error: "multi-disk archives are not supported" };
  }
  if (count > caps.maxEntries) {
    return { ok: false, error: `${count} entries exceed the cap of ${caps.maxEntries}` };
  }
  if (centralStart + centralSize !== eocd) {
    return { ok: false, error: "central directory does not end where the end record starts (truncated, or data prepended)" };
  }
  const central = readCentral(bytes, centralStart, eocd, count, caps);
  if (!central.ok) return central;
  const { entries: placed, problems } = central.value;
  for (const p of placed) placeLocal(bytes, p, centralStart, problems);
  findOverlaps(placed, problems);
  findCollisions(
    placed.map((p) => p.entry),
    problems,
  );

  const byEntry = new Map(placed.map((p) => [p.entry, p]));
  return {
    ok: true,
    value: {
      entries: placed.map((p) => p.entry),
      problems,
      read(entry) {
        const p = byEntry.get(entry);
        if (p === undefined) return { ok: false, error: `${entry.name}: not an entry of this archive` };
        if (p.refused !== undefined) return { ok: false, error: p.refused };
        return inflate(bytes, p);
      },
    },
  };
}
