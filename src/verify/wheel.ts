import { readFileSync } from "node:fs";
import { basename } from "node:path";

import { errorMessage } from "../errors.js";
import {
  checkMetadata,
  checkPaths,
  checkRecord,
  checkWheelFile,
  findDistInfo,
  readText,
  type CheckContext,
  type DeclaredMetadata,
} from "./dist-info-checks.js";
import { contentActions, DEFAULT_RULES, type ContentRules } from "../config/allowlist-schema.js";
import { scanContent, type ContentSignal } from "./content-signals.js";
import { parseEntryPoints, type EntryPoints } from "./entry-points.js";
import { startupHook } from "./wheel-paths.js";
import { parseWheelFilename } from "./wheel-filename.js";
import { openZip } from "./zip-reader.js";

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
  /** Content signals found, each with the rules.content action that applied (deny ones are also problems). */
  signals: Array<ContentSignal & { action: "deny" | "warn" }>;
  /** One line each, naming the file inside the wheel; empty means the wheel passes. */
  problems: string[];
}

/** What inspection may tolerate: .pth files run code at every start-up, so they need an explicit yes. */
export interface InspectOptions {
  allowPth: boolean;
  /** rules.content: deny or warn per content signal; the defaults when absent */
  content?: ContentRules;
}

function checkStartupHooks(context: CheckContext, paths: string[], allowPth: boolean): string[] {
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
export function inspectWheel(path: string, options: InspectOptions): { ok: true; inspection: WheelInspection } | { ok: false; error: string } {
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
  const context: CheckContext = { archive, files: new Map(fileEntries.map((e) => [e.name, e])), problems };
  const distInfo = findDistInfo(context, archive.entries, name, version);
  const dataDir = distInfo === undefined ? undefined : `${distInfo.slice(0, -".dist-info".length)}.data`;
  checkPaths(context, archive.entries, dataDir);

  let metadata: DeclaredMetadata = { requiresDist: [] };
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
  const actions = options.content ?? contentActions(DEFAULT_RULES);
  const signals = scanContent(archive, context.files, parsed?.tags ?? [], problems).map((signal) => ({ ...signal, action: actions[signal.kind] }));
  for (const signal of signals) if (signal.action === "deny") problems.push(`${signal.detail} (rules.content.${signal.kind}: deny)`);

  const inspection: WheelInspection = {
    filename,
    name,
    version,
    requiresDist: metadata.requiresDist,
    entryPoints,
    pthFiles,
    signals,
    files: fileEntries.length,
    uncompressedBytes: fileEntries.reduce((sum, e) => sum + e.size, 0),
    problems: [...new Set(problems)],
  };
  if (metadata.requiresPython !== undefined) inspection.requiresPython = metadata.requiresPython;
  return { ok: true, inspection };
}
