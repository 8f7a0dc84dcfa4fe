import { lstat, mkdir, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import { join, relative, isAbsolute, sep } from "node:path";
import { z } from "zod";
import { errorMessage, type Result } from "../errors.js";
import type { InterpreterInfo } from "./interpreter.js";
import { lastLine } from "./interpreter.js";

/*
 * Why full copies and not hardlinks: a hardlinked backup is only correct if pip never writes into an
 * existing inode. The pip 23 seen here unlinks before writing and stashes by rename, but the venv's pip
 * is whatever version that venv holds, and one in-place write would silently corrupt the backup. So
 * the backup is `cp -a --reflink=auto`: copy-on-write clones where the file system has them (btrfs,
 * XFS), a real copy elsewhere (ext4: ~0.2 s for a 26 MB fresh venv). Restoring replaces each root
 * wholesale from the copy, which removes added files and brings back changed or deleted ones, modes
 * and timestamps included.
 */

export const ManifestSchema = z.object({
  version: z.literal(1),
  python: z.string(),
  roots: z.array(z.object({ path: z.string(), existed: z.boolean() })),
  link: z.boolean().optional().describe("the roots were hardlinked (only for the direct installer, which never writes into an inode)"),
});
/** What a backup holds, written only once the copy is complete. */
export type Manifest = z.infer<typeof ManifestSchema>;

/** The smallest set of directories covering everything: nested roots are dropped. */
export function coverRoots(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)].sort((a, b) => a.length - b.length);
  const cover: string[] = [];
  for (const path of unique) {
    if (!cover.some((root) => isInside(path, root))) cover.push(path);
  }
  return cover.sort();
}

/** Path containment without string-prefix traps ("/v2" is not inside "/v"). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Where pip may write for this commit: site-packages (purelib, platlib) and the scripts directory,
 * plus the whole prefix when a wheel carries .data/data or .data/headers. Every root must lie inside
 * the venv: pipgate commits only into virtual environments, never into a system Python.
 */
export async function backupRoots(info: InterpreterInfo, outsideSitePackages: boolean): Promise<Result<string[]>> {
  if (info.prefix === info.base_prefix) {
    return { ok: false, error: `${info.prefix} is not a virtual environment; pipgate installs only into venvs` };
  }
  const prefix = await realpath(info.prefix);
  const wanted = [info.purelib, info.platlib, info.scripts, ...(outsideSitePackages ? [info.data] : [])];
  const resolved: string[] = [];
  for (const path of wanted) {
    const real = await realpath(path).catch(() => path);
    if (!isInside(real, prefix)) return { ok: false, error: `${path} lies outside the venv ${prefix}; refusing` };
    resolved.push(real);
  }
  return { ok: true, value: coverRoots(resolved) };
}

/**
 * How a backup holds the roots. "copy" for the pip installer (see above); "hardlink" only for the
 * direct installer, which writes every file as a new inode and only unlinks old ones, so a linked tree
 * keeps the old contents at the cost of metadata alone.
 */
export type BackupMode = "copy" | "hardlink";

async function cp(from: string, to: string, link = false): Promise<void> {
  const args = link ? ["-a", "-l", "--", from, to] : ["-a", "--reflink=auto", "--", from, to];
  const { execa } = await import("execa"); // on first use: start-up (pipgate install) does not load it
  const run = await execa("cp", args, { reject: false, stdin: "ignore" });
  if (run.failed) throw new Error(`copying ${from} failed: ${lastLine(run.stderr) || run.shortMessage}`);
}

/** Links where it can; across file systems (state directory elsewhere) it falls back to a full copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await cp(from, to, true);
  } catch {
    await rm(to, { recursive: true, force: true });
    await cp(from, to);
  }
}

/** Copies (or links) every root into backupDir, then writes the manifest (atomically) to say it is whole. */
export async function takeBackup(backupDir: string, python: string, roots: readonly string[], mode: BackupMode = "copy"): Promise<void> {
  await mkdir(join(backupDir, "roots"), { recursive: true, mode: 0o700 });
  const manifest: Manifest = { version: 1, python, roots: [], ...(mode === "hardlink" ? { link: true } : {}) };
  for (const [index, root] of roots.entries()) {
    const existed = await lstat(root).then(
      () => true,
      () => false,
    );
    const to = join(backupDir, "roots", String(index));
    if (existed) await (mode === "hardlink" ? linkOrCopy(root, to) : cp(root, to));
    manifest.roots.push({ path: root, existed });
  }
  const tmp = join(backupDir, "manifest.json.tmp");
  await writeFile(tmp, JSON.stringify(manifest));
  await rename(tmp, join(backupDir, "manifest.json"));
}

/** A backup without a valid manifest was never finished, and must not be restored from. */
export async function readManifest(backupDir: string): Promise<Result<Manifest>> {
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(await readFile(join(backupDir, "manifest.json"), "utf8")));
    if (!parsed.success) return { ok: false, error: `backup manifest in ${backupDir} is invalid: ${parsed.error.message}` };
    return { ok: true, value: parsed.data };
  } catch (error) {
    return { ok: false, error: `backup in ${backupDir} is incomplete: ${errorMessage(error)}` };
  }
}

/**
 * Puts every root back exactly as copied. Idempotent: if it is interrupted, running it again from the
 * same backup finishes the job, which is what start-up recovery relies on. A linked backup is linked
 * back (the backup's inodes become the venv's again, and the backup is dropped right after).
 */
export async function restoreBackup(backupDir: string, manifest: Manifest): Promise<void> {
  for (const [index, root] of manifest.roots.entries()) {
    await rm(root.path, { recursive: true, force: true });
    if (!root.existed) continue;
    const from = join(backupDir, "roots", String(index));
    await (manifest.link === true ? linkOrCopy(from, root.path) : cp(from, root.path));
  }
}

/** Called only once the journal row is final, so a crash never loses a backup still needed. */
export async function discardBackup(backupDir: string): Promise<void> {
  await rm(backupDir, { recursive: true, force: true });
}
