import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";

import { eq, valid } from "@renovatebot/pep440";

import { errorMessage } from "../errors.js";
import { normalizeName } from "../requirement/name.js";
import { parseEntryPoints, type EntryPoints } from "./entry-points.js";
import { parseHeaders } from "./headers.js";
import { parseRecord } from "./record-file.js";
import { dataPathReason, fileTypeReason, startupHook, unsafePathReason } from "./wheel-paths.js";
import { parseWheelFilename } from "./wheel-filename.js";
import { openZip, type ZipArchive, type ZipEntry } from "./zip-reader.js";

export { parseWheelFilename, type WheelFilename } from "./wheel-filename.js";

/** Everything the commit step and the audit record need to know about one wheel, read without running it. */
export interface WheelInspection {
  filename: string;
  /** PEP 503 normalised. */
  name: string;
  version: string;
  requiresDist: string[];
  requiresPython?: string;
  entryPoints: EntryPoints;
  /** Paths of .pth files that would land in site-packages. */
  pthFiles: string[];
  files: number;
  uncompressedBytes: number;
  /** One line each, naming the file inside the wheel; empty means the wheel passes. */
  problems: string[];
}

/** What inspection may tolerate: .pth files run code at every start-up, so they need an explicit yes. */
export interface InspectOptions {
  allowPth: boolean;
}

/** Hash algorithms RECORD may use: sha256 or stronger (binary distribution format). */
const RECORD_ALGORITHMS = new Set(["sha256", "sha384", "sha512"]);

function versionsEqual(a: string, b: string): boolean {
  return valid(a) !== null && valid(b) !== null ? eq(a, b) : a === b;
}

/** Splits `{name}-{version}.dist-info` (or `.data`) and compares it with the filename, normalised. */
function stemMatches(stem: string, name: string, version: string): boolean {
  const dash = stem.lastIndexOf("-");
  if (dash <= 0) return false;
  return normalizeName(stem.slice(0, dash)) === name && versionsEqual(stem.slice(dash + 1), version);
}

interface Context {
  archive: ZipArchive;
  files: Map<string, ZipEntry>;
  problems: string[];
}

function readText(context: Context, path: string): string | undefined {
  const entry = context.files.get(path);
  if (entry === undefined) {
    context.problems.push(`${path}: missing`);
    return undefined;
  }
  const data = context.archive.read(entry);
  if (!data.ok) {
    context.problems.push(data.error);
    return undefined;
  }
  return data.value.toString("utf8");
}

function checkPaths(context: Context, entries: ZipEntry[], dataDir: string | undefined): void {
  for (const entry of entries) {
    const unsafe = unsafePathReason(entry.name);
    if (unsafe !== undefined) context.problems.push(`${entry.name}: ${unsafe}`);
    const type = fileTypeReason(entry.externalAttrs);
    if (type !== undefined) context.problems.push(`${entry.name}: ${type}`);
    if (entry.name.endsWith("/")) continue;
    const data = dataPathReason(entry.name, dataDir);
    if (data !== undefined) context.problems.push(`${entry.name}: ${data}`);
  }
}

/** Finds the one `.dist-info` directory, which must be the filename's project and version. */
function findDistInfo(context: Context, entries: ZipEntry[], name: string, version: string): string | undefined {
  const tops = new Set(entries.map((e) => e.name.split("/")[0] ?? "").filter((top) => top.endsWith(".dist-info")));
  const found = [...tops].filter((top) => entries.some((e) => e.name.startsWith(`${top}/`)));
  if (found.length !== 1) {
    const list = found.length === 0 ? "none" : found.join(", ");
    context.problems.push(`*.dist-info/: a wheel must hold exactly one .dist-info directory (found ${list})`);
    return undefined;
  }
  const [distInfo = ""] = found;
  if (!stemMatches(distInfo.slice(0, -".dist-info".length), name, version)) {
    context.problems.push(`${distInfo}/: does not match the filename's ${name} ${version}`);
  }
  return distInfo;
}

function checkMetadata(context: Context, distInfo: string, name: string, version: string): Partial<WheelInspection> {
  const path = `${distInfo}/METADATA`;
  const text = readText(context, path);
  if (text === undefined) return {};
  const headers = parseHeaders(text);
  for (const line of headers.malformed) context.problems.push(`${path}: malformed header line ${JSON.stringify(line)}`);
  if (headers.get("Metadata-Version") === undefined) context.problems.push(`${path}: no Metadata-Version`);
  const metaName = headers.get("Name");
  const metaVersion = headers.get("Version");
  if (metaName === undefined) context.problems.push(`${path}: no Name`);
  else if (normalizeName(metaName) !== name) {
    context.problems.push(`${path}: Name ${JSON.stringify(metaName)} does not match the filename's ${JSON.stringify(name)}`);
  }
  if (metaVersion === undefined) context.problems.push(`${path}: no Version`);
  else if (!versionsEqual(metaVersion, version)) {
    context.problems.push(`${path}: Version ${JSON.stringify(metaVersion)} does not match the filename's ${JSON.stringify(version)}`);
  }
  const result: Partial<WheelInspection> = { requiresDist: headers.all("Requires-Dist") };
  const requiresPython = headers.get("Requires-Python");
  if (requiresPython !== undefined) result.requiresPython = requiresPython;
  return result;
}

function checkWheelFile(context: Context, distInfo: string): void {
  const path = `${distInfo}/WHEEL`;
  const text = readText(context, path);
  if (text === undefined) return;
  const headers = parseHeaders(text);
  const wheelVersion = headers.get("Wheel-Version");
  if (wheelVersion === undefined || !/^1\.\d+$/.test(wheelVersion)) {
    context.problems.push(`${path}: Wheel-Version ${JSON.stringify(wheelVersion ?? "")} is not 1.x`);
  }
  const purelib = headers.get("Root-Is-Purelib")?.toLowerCase();
  if (purelib !== "true" && purelib !== "false") {
    context.problems.push(`${path}: Root-Is-Purelib must be "true" or "false"`);
  }
}

/** Every file listed with a correct digest and size, every listed file present: what pip itself trusts. */
function checkRecord(context: Context, distInfo: string): void {
  const recordPath = `${distInfo}/RECORD`;
  const text = readText(context, recordPath);
  if (text === undefined) return;
  const { rows, malformed } = parseRecord(text);
  for (const line of malformed) context.problems.push(`${recordPath}: line ${line} is not "path,hash,size"`);
  const unsigned = new Set([recordPath, `${recordPath}.jws`, `${recordPath}.p7s`]);
  const listed = new Set<string>();
  for (const row of rows) {
    if (listed.has(row.path)) {
      context.problems.push(`${row.path}: listed more than once in RECORD`);
      continue;
    }
    listed.add(row.path);
    const entry = context.files.get(row.path);
    if (entry === undefined) {
      context.problems.push(`${row.path}: listed in RECORD but not in the archive`);
      continue;
    }
    if (row.hash === "" && unsigned.has(row.path)) continue;
    const [algorithm = "", digest] = row.hash.split("=", 2);
    if (digest === undefined || !RECORD_ALGORITHMS.has(algorithm)) {
      context.problems.push(`${row.path}: RECORD hash ${JSON.stringify(row.hash)} is not sha256 (or stronger)`);
      continue;
    }
    const data = context.archive.read(entry);
    if (!data.ok) {
      context.problems.push(data.error);
      continue;
    }
    if (createHash(algorithm).update(data.value).digest("base64url") !== digest) {
      context.problems.push(`${row.path}: ${algorithm} does not match RECORD (the file was changed)`);
    }
    if (row.size !== String(data.value.length)) {
      context.problems.push(`${row.path}: size ${data.value.length} does not match RECORD's ${JSON.stringify(row.size)}`);
    }
  }
  for (const path of context.files.keys()) {
    if (!listed.has(path) && !unsigned.has(path)) context.problems.push(`${path}: not listed in RECORD`);
  }
}

function checkStartupHooks(context: Context, paths: string[], allowPth: boolean): string[] {
  const pthFiles: string[] = [];
  for (const path of paths) {
    const hook = startupHook(path);
    if (hook === "pth") {
      pthFiles.push(path);
      if (!allowPth) context.problems.push(`${path}: .pth file in site-packages runs at every interpreter start-up (not allowed)`);
    } else if (hook === "customize") {
      context.problems.push(`${path}: a sitecustomize/usercustomize module runs at every interpreter start-up`);
    }
  }
  return pthFiles;
}

/**
 * Inspects a wheel file without running any of it. `ok: false` only when it cannot be read as a
 * wheel at all; every policy finding is a line in `problems`, and any problem means do not install.
 */
export function inspectWheel(
  path: string,
  options: InspectOptions,
): { ok: true; inspection: WheelInspection } | { ok: false; error: string } {
  const filename = basename(path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    return { ok: false, error: `${filename}: cannot read (${errorMessage(error)})` };
  }
  const opened = openZip(bytes);
  if (!opened.ok) return { ok: false, error: `${filename}: ${opened.error}` };
  const archive = opened.value;
  const problems = [...archive.problems];
  const parsed = parseWheelFilename(filename);
  if (parsed === undefined) problems.push(`${filename}: not a valid wheel filename (name-version[-build]-python-abi-platform.whl)`);
  const name = parsed?.name ?? "";
  const version = parsed?.version ?? "";

  const fileEntries = archive.entries.filter((e) => !e.name.endsWith("/"));
  const context: Context = { archive, files: new Map(fileEntries.map((e) => [e.name, e])), problems };
  const distInfo = findDistInfo(context, archive.entries, name, version);
  const dataDir = distInfo === undefined ? undefined : `${distInfo.slice(0, -".dist-info".length)}.data`;
  checkPaths(context, archive.entries, dataDir);

  let metadata: Partial<WheelInspection> = {};
  let entryPoints: EntryPoints = { console_scripts: {}, gui_scripts: {} };
  if (distInfo !== undefined) {
    metadata = checkMetadata(context, distInfo, name, version);
    checkWheelFile(context, distInfo);
    checkRecord(context, distInfo);
    const entryPointsPath = `${distInfo}/entry_points.txt`;
    if (context.files.has(entryPointsPath)) {
      const text = readText(context, entryPointsPath);
      const parsedEntryPoints = parseEntryPoints(text ?? "", entryPointsPath);
      entryPoints = parsedEntryPoints.entryPoints;
      problems.push(...parsedEntryPoints.problems);
    }
  }
  const pthFiles = checkStartupHooks(context, [...context.files.keys()], options.allowPth);

  const inspection: WheelInspection = {
    filename,
    name,
    version,
    requiresDist: metadata.requiresDist ?? [],
    entryPoints,
    pthFiles,
    files: fileEntries.length,
    uncompressedBytes: fileEntries.reduce((sum, e) => sum + e.size, 0),
    problems: [...new Set(problems)],
  };
  if (metadata.requiresPython !== undefined) inspection.requiresPython = metadata.requiresPython;
  return { ok: true, inspection };
}
