import { lstat, readFile, readdir, realpath, rmdir, unlink } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { isInside } from "./backup.js";
import { parseRecord } from "./direct-record.js";
import { normalizeName } from "../requirement/name.js";

/**
 * The .dist-info directory of an installed distribution, found by its METADATA Name (directory names
 * are not reliably normalised by older installers), or undefined when it is not there.
 */
export async function findInstalledDistInfo(siteDirs: readonly string[], name: string): Promise<string | undefined> {
  const wanted = normalizeName(name);
  for (const dir of [...new Set(siteDirs)]) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries.filter((e) => e.endsWith(".dist-info")).sort()) {
      if (!normalizeName(entry).startsWith(`${wanted}-`)) continue;
      const metadata = await readFile(join(dir, entry, "METADATA"), "utf8").catch(() => "");
      const declared = /^Name:[ \t]*(.+?)[ \t]*$/m.exec(metadata)?.[1];
      if (declared !== undefined && normalizeName(declared) === wanted) return join(dir, entry);
    }
  }
  return undefined;
}

/** The interpreter's byte-compiled files for a source file: `__pycache__/{stem}.*.pyc`. */
async function cachedBytecode(source: string): Promise<string[]> {
  const cache = join(dirname(source), "__pycache__");
  const stem = basename(source).slice(0, -".py".length);
  const entries = await readdir(cache).catch(() => [] as string[]);
  return entries.filter((e) => e.startsWith(`${stem}.`) && e.endsWith(".pyc") && e.split(".").length === 3).map((e) => join(cache, e));
}

/** What an uninstall will remove, computed (and every path checked) before anything is removed. */
export interface UninstallPlan {
  distInfo: string;
  /** Every path RECORD lists plus the bytecode of its .py files; some may already be missing. */
  files: string[];
  /** Directories that may become empty and be removed: each file's ancestors below the kept roots. */
  dirs: string[];
}

/**
 * Reads RECORD and checks every path: one that lies outside the venv, or under a symlink leading out
 * of it, refuses the whole RECORD. Nothing is touched; the undo journal is built from the plan.
 */
export async function planUninstall(distInfo: string, prefix: string, keepDirs: readonly string[]): Promise<UninstallPlan> {
  const realPrefix = await realpath(prefix);
  const site = dirname(distInfo);
  let text: string;
  try {
    text = await readFile(join(distInfo, "RECORD"), "utf8");
  } catch {
    throw new Error(`${distInfo} has no RECORD: pipgate cannot tell which files belong to it`);
  }
  const rows = parseRecord(text);
  const targets: string[] = [];
  for (const row of rows) {
    const path = isAbsolute(row.path) ? resolve(row.path) : resolve(site, row.path);
    const parent = await realpath(dirname(path)).catch(() => undefined);
    const inside = isInside(path, realPrefix) || isInside(path, resolve(prefix));
    if (!inside || (parent !== undefined && !isInside(parent, realPrefix))) {
      throw new Error(`${join(distInfo, "RECORD")} lists ${row.path}, outside the venv ${prefix}; refusing to uninstall`);
    }
    targets.push(path);
  }
  if (!targets.some((t) => t === join(distInfo, "RECORD"))) targets.push(join(distInfo, "RECORD"));
  for (const path of [...targets]) if (path.endsWith(".py")) targets.push(...(await cachedBytecode(path)));
  const keep = keptDirs(prefix, realPrefix, keepDirs);
  const dirs = new Set<string>();
  for (const path of targets) {
    for (let dir = dirname(path); isInside(dir, realPrefix) || isInside(dir, resolve(prefix)); dir = dirname(dir)) {
      if (keep.has(dir) || dirs.has(dir)) break;
      dirs.add(dir);
    }
  }
  return { distInfo, files: [...new Set(targets)], dirs: [...dirs] };
}

function keptDirs(prefix: string, realPrefix: string, keepDirs: readonly string[]): Set<string> {
  return new Set([...keepDirs.map((d) => resolve(d)), resolve(prefix), realPrefix]);
}

/**
 * Removes what the plan lists, then the directories that became empty, never a scheme root. Files are
 * unlinked, never written, so a hardlinked backup of them stays intact.
 */
export async function applyUninstall(plan: UninstallPlan, prefix: string, keepDirs: readonly string[]): Promise<number> {
  const realPrefix = await realpath(prefix);
  const parents = new Set<string>();
  let removed = 0;
  for (const path of plan.files) {
    const stat = await lstat(path).catch(() => undefined);
    if (stat === undefined || stat.isDirectory()) continue;
    await unlink(path);
    removed += 1;
    parents.add(dirname(path));
  }
  const keep = keptDirs(prefix, realPrefix, keepDirs);
  // Deepest first, so a directory emptied by removing its empty children goes too.
  for (const start of [...parents].sort((a, b) => b.length - a.length)) {
    for (let dir = start; isInside(dir, realPrefix) || isInside(dir, resolve(prefix)); dir = dirname(dir)) {
      if (keep.has(dir)) break;
      const left = await readdir(dir).catch(() => undefined);
      if (left === undefined || left.length > 0) break;
      await rmdir(dir);
    }
  }
  return removed;
}

/**
 * Removes an installed distribution exactly as its RECORD lists it (plus the bytecode of its .py files),
 * then the directories that became empty, never a scheme root. Every path is checked before anything is
 * removed: one that lies outside the venv, or under a symlink leading out of it, refuses the whole RECORD.
 */
export async function uninstallDistribution(distInfo: string, prefix: string, keepDirs: readonly string[]): Promise<number> {
  return applyUninstall(await planUninstall(distInfo, prefix, keepDirs), prefix, keepDirs);
}
