import { createHash } from "node:crypto";

import { eq, valid } from "@renovatebot/pep440";

import { normalizeName } from "../requirement/name.js";
import { parseHeaders } from "./headers.js";
import { parseRecord } from "./record-file.js";
import { dataPathReason, fileTypeReason, unsafePathReason } from "./wheel-paths.js";
import type { ZipArchive, ZipEntry } from "./zip-reader.js";

/** What the checks share: the opened archive, its files by path, and the problems found so far. */
export interface CheckContext {
  archive: ZipArchive;
  files: Map<string, ZipEntry>;
  problems: string[];
}

/** What METADATA declares that the inspection reports. */
export interface DeclaredMetadata {
  requiresDist: string[];
  requiresPython?: string;
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

/** A file of the archive as text; a missing or unreadable file is a problem, not an exception. */
export function readText(context: CheckContext, path: string): string | undefined {
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

/** Unsafe paths, refused file types, and misplaced `.data/` files. */
export function checkPaths(context: CheckContext, entries: ZipEntry[], dataDir: string | undefined): void {
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
export function findDistInfo(context: CheckContext, entries: ZipEntry[], name: string, version: string): string | undefined {
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

/** METADATA must name the filename's project and version; returns what it declares. */
export function checkMetadata(context: CheckContext, distInfo: string, name: string, version: string): DeclaredMetadata {
  const path = `${distInfo}/METADATA`;
  const text = readText(context, path);
  if (text === undefined) return { requiresDist: [] };
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
  const result: DeclaredMetadata = { requiresDist: headers.all("Requires-Dist") };
  const requiresPython = headers.get("Requires-Python");
  if (requiresPython !== undefined) result.requiresPython = requiresPython;
  return result;
}

/** WHEEL must say `Wheel-Version: 1.x` and where the root goes; a newer major version is refused. */
export function checkWheelFile(context: CheckContext, distInfo: string): void {
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
export function checkRecord(context: CheckContext, distInfo: string): void {
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
