import { constants } from "node:fs";
import { lstat, open, opendir } from "node:fs/promises";
import { basename, join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { errorMessage, type Result } from "../errors.js";
import { buildOsvIndex, type OsvSnapshot } from "../policy/osv-index.js";
import { parseOsvRecord, type OsvAdvisory } from "../policy/osv-record.js";
import { openZip } from "../verify/zip-reader.js";

/** Caps on what an OSV database may make pipgate read: a feed is outside data like any other. */
export interface OsvLimits {
  /** records (JSON files) in all */
  maxRecords: number;
  /** one record's size */
  maxRecordBytes: number;
  /** the zip file's size, or the sum of a directory's record sizes */
  maxTotalBytes: number;
  /** how deep a directory tree is walked */
  maxDepth: number;
}

/** Far above the PyPI export (tens of thousands of records, tens of MB), far below harm. */
export const DEFAULT_OSV_LIMITS: OsvLimits = {
  maxRecords: 65_535,
  maxRecordBytes: 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxDepth: 8,
};

/** A loaded database, and what was skipped on the way (records that are not OSV, links, other files). */
export interface OsvLoad {
  snapshot: OsvSnapshot;
  /** one line per skipped record, at most MAX_WARNINGS */
  warnings: string[];
  skipped: number;
}

const MAX_WARNINGS = 20;

/**
 * Loads an OSV database from `path`: a directory of OSV JSON records (walked recursively, links never
 * followed) or a zip of them such as the PyPI ecosystem's `all.zip` (read with the bounded zip reader).
 * Any cap exceeded, or an archive the zip reader finds ambiguous, fails the whole load (fail closed);
 * a single record that is not OSV is skipped and reported.
 */
export async function loadOsvDatabase(path: string, now: Date, limits: Partial<OsvLimits> = {}): Promise<Result<OsvLoad>> {
  const caps = { ...DEFAULT_OSV_LIMITS, ...limits };
  let stat;
  try {
    stat = await lstat(path);
  } catch (error) {
    return { ok: false, error: `cannot read ${path}: ${errorMessage(error)}` };
  }
  const raw = stat.isDirectory() ? await readDirectory(path, caps) : stat.isFile() ? await readZip(path, caps) : undefined;
  if (raw === undefined) return { ok: false, error: `${path} is neither a directory nor a regular file (links are not followed)` };
  if (!raw.ok) return raw;

  const advisories: OsvAdvisory[] = [];
  const warnings = [...raw.value.warnings];
  let skipped = raw.value.skipped;
  let done = 0;
  for (const record of raw.value.records) {
    // Inflating and parsing tens of thousands of records takes seconds: give other requests the loop between batches.
    if (++done % BATCH === 0) await yieldToLoop();
    const bytes = record.bytes();
    if (!bytes.ok) return { ok: false, error: `${path}: ${bytes.error}` };
    let json: unknown;
    try {
      json = JSON.parse(bytes.value.toString("utf8"));
    } catch (error) {
      skipped += 1;
      if (warnings.length < MAX_WARNINGS) warnings.push(`${record.name}: not JSON (${errorMessage(error)})`);
      continue;
    }
    const parsed = parseOsvRecord(json);
    if (!parsed.ok) {
      skipped += 1;
      if (warnings.length < MAX_WARNINGS) warnings.push(`${record.name}: ${parsed.error}`);
      continue;
    }
    advisories.push(parsed.value);
  }
  await yieldToLoop();
  return { ok: true, value: { snapshot: buildOsvIndex(path, advisories, now), warnings, skipped } };
}

/** Records handled between two turns of the event loop (about 10 ms of work each on these machines). */
const BATCH = 200;

interface RawRecords {
  /** bytes() inflates a zip entry only when its turn comes */
  records: { name: string; bytes: () => Result<Buffer> }[];
  warnings: string[];
  skipped: number;
}

async function readZip(path: string, caps: OsvLimits): Promise<Result<RawRecords>> {
  const file = await readBounded(path, caps.maxTotalBytes);
  if (!file.ok) return file;
  const archive = openZip(file.value, { maxEntries: caps.maxRecords, maxTotalSize: caps.maxTotalBytes });
  if (!archive.ok) return { ok: false, error: `${path}: ${archive.error}` };
  if (archive.value.problems.length > 0) {
    return { ok: false, error: `${path}: ${archive.value.problems.slice(0, 3).join("; ")}${archive.value.problems.length > 3 ? " …" : ""}` };
  }
  const records: RawRecords["records"] = [];
  const warnings: string[] = [];
  let skipped = 0;
  for (const entry of archive.value.entries) {
    if (entry.name.endsWith("/")) continue;
    if (!entry.name.endsWith(".json")) {
      skipped += 1;
      if (warnings.length < MAX_WARNINGS) warnings.push(`${entry.name}: not a .json record`);
      continue;
    }
    if (entry.size > caps.maxRecordBytes) return { ok: false, error: `${path}: ${entry.name} is ${entry.size} bytes, over the cap of ${caps.maxRecordBytes}` };
    const zip = archive.value;
    records.push({ name: entry.name, bytes: () => zip.read(entry) });
  }
  return { ok: true, value: { records, warnings, skipped } };
}

async function readDirectory(root: string, caps: OsvLimits): Promise<Result<RawRecords>> {
  const records: RawRecords["records"] = [];
  const warnings: string[] = [];
  let skipped = 0;
  let total = 0;
  const walk = async (dir: string, depth: number): Promise<Result<undefined>> => {
    let handle;
    try {
      handle = await opendir(dir);
    } catch (error) {
      return { ok: false, error: `cannot read ${dir}: ${errorMessage(error)}` };
    }
    for await (const entry of handle) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name.startsWith(".")) continue;
        if (depth >= caps.maxDepth) return { ok: false, error: `${full}: deeper than ${caps.maxDepth} levels` };
        const inner = await walk(full, depth + 1);
        if (!inner.ok) return inner;
        continue;
      }
      if (!entry.name.endsWith(".json")) continue;
      if (!entry.isFile()) {
        skipped += 1;
        if (warnings.length < MAX_WARNINGS) warnings.push(`${full}: not a regular file (links are not followed)`);
        continue;
      }
      if (records.length >= caps.maxRecords) return { ok: false, error: `${root}: more than ${caps.maxRecords} records` };
      const bytes = await readBounded(full, caps.maxRecordBytes);
      if (!bytes.ok) return bytes;
      total += bytes.value.length;
      if (total > caps.maxTotalBytes) return { ok: false, error: `${root}: records total more than ${caps.maxTotalBytes} bytes` };
      const value = bytes.value;
      records.push({ name: full.slice(root.length + 1) || basename(full), bytes: () => ({ ok: true, value }) });
    }
    return { ok: true, value: undefined };
  };
  const walked = await walk(root, 0);
  if (!walked.ok) return walked;
  return { ok: true, value: { records, warnings, skipped } };
}

/** Reads a regular file without following a link, refusing it when it is larger than `max` bytes. */
async function readBounded(path: string, max: number): Promise<Result<Buffer>> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    return { ok: false, error: `cannot open ${path}: ${errorMessage(error)}` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { ok: false, error: `${path} is not a regular file` };
    if (stat.size > max) return { ok: false, error: `${path} is ${stat.size} bytes, over the cap of ${max}` };
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < stat.size) {
      const { bytesRead } = await handle.read(buffer, read, stat.size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return { ok: true, value: buffer.subarray(0, read) };
  } catch (error) {
    return { ok: false, error: `cannot read ${path}: ${errorMessage(error)}` };
  } finally {
    await handle.close();
  }
}
