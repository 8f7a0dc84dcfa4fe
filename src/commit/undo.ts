import { constants, type Stats } from "node:fs";
import { link, lstat, mkdir, open, readdir, realpath, rename, rm, chmod } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { isInside } from "./backup.js";
import { lastLine } from "./interpreter.js";
import { inBatches } from "./batches.js";

/*
 * The undo journal of the direct installer: exactly the paths one install touches, not a snapshot of
 * the environment, so a commit costs what it changes. Before the first write it lists
 *  - every existing file the install removes or replaces (the old distributions' RECORD entries and
 *    their bytecode, and any file already at a path a wheel writes), each saved into the backup by a
 *    hardlink: the direct installer never writes into an existing inode, it unlinks and renames over;
 *  - every path it creates that did not exist: files, byte-compiled files and the directories above;
 *  - the existing directories an uninstall may remove when they become empty, with their modes.
 * The journal is fsynced (and the backup directory with it) before the first write. Restoring removes
 * what was created, puts the directories back and links every saved file back: the same inodes, so
 * contents, modes and mtimes are exactly as before. Restoring is idempotent, which is what start-up
 * recovery relies on when it is itself interrupted.
 */

const TOKEN = /^[0-9a-f]{12}$/;

/** Existing paths looked at side by side (libuv's pool does the stats). */
const STATS_IN_FLIGHT = 32;

export const UndoManifestSchema = z.object({
  version: z.literal(2),
  kind: z.literal("paths"),
  python: z.string(),
  token: z.string().regex(TOKEN).describe("names this commit's temporary files, so a restore finds them"),
  saved: z
    .array(z.object({ path: z.string(), entry: z.number().int().nonnegative(), link: z.boolean() }))
    .describe("existing files the install removes or replaces, saved as backupDir/files/<entry>"),
  created: z.array(z.string()).describe("files the install writes where nothing was: removed on restore"),
  createdDirs: z.array(z.string()).describe("directories the install creates: removed, with all they hold, on restore"),
  dirs: z.array(z.object({ path: z.string(), mode: z.number().int() })).describe("existing directories an uninstall may remove"),
  compiled: z.array(z.string()).describe("byte-compiled files it writes; their interpreter's temporary siblings go too"),
});
/** What a per-path backup holds; written (fsynced) once every saved file is in the backup. */
export type UndoManifest = z.infer<typeof UndoManifestSchema>;

export const UNDO_MANIFEST = "undo.json";

/** What an install is going to touch, computed before it touches anything. */
export interface TouchSet {
  /** Existing paths it removes (RECORD entries of the replaced distributions); missing ones are skipped. */
  removes: readonly string[];
  /** Directories that may be removed when emptied. */
  removableDirs: readonly string[];
  /** Every file it writes (renamed over whatever is there). */
  writes: readonly string[];
  /** The byte-compiled files among the writes. */
  compiled: readonly string[];
}

/** The temporary name the direct installer writes a file under before renaming it into place. */
export function tempSibling(path: string, token: string): string {
  return join(dirname(path), `.${basename(path)}.${token}.pipgate-tmp`);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function cpa(from: string, to: string): Promise<void> {
  const { execa } = await import("execa"); // on first use: start-up (pipgate install) does not load it
  const run = await execa("cp", ["-a", "--reflink=auto", "--no-target-directory", "--", from, to], { reject: false, stdin: "ignore" });
  if (run.failed) throw new Error(`copying ${from} failed: ${lastLine(run.stderr) || run.shortMessage}`);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Saves what the install will remove or replace into backupDir and writes the manifest, durably,
 * before anything in the environment is written. Every path must lie inside the venv, below no
 * symlink that leads out of it; a file that would replace a directory is refused here, untouched.
 */
export async function takeUndo(
  backupDir: string,
  python: string,
  prefix: string,
  touch: TouchSet,
  token: string,
  mode: "copy" | "hardlink",
): Promise<UndoManifest> {
  if (!TOKEN.test(token)) throw new Error("invalid commit token");
  const realPrefix = await realpath(prefix);
  const filesDir = join(backupDir, "files");
  await mkdir(filesDir, { recursive: true, mode: 0o700 });
  const manifest: UndoManifest = {
    version: 2,
    kind: "paths",
    python,
    token,
    saved: [],
    created: [],
    createdDirs: [],
    dirs: [],
    compiled: [...new Set(touch.compiled)],
  };
  const writes = new Set(touch.writes);
  const known = new Map<string, boolean>();
  const dirExists = async (dir: string): Promise<boolean> => {
    let found = known.get(dir);
    if (found === undefined) {
      found = await exists(dir);
      known.set(dir, found);
    }
    return found;
  };
  const createdDirs = new Set<string>();
  const paths = [...new Set([...touch.removes, ...touch.writes])];
  // Per parent directory, the directories from it upward that do not exist yet (none: it exists). A path
  // whose directory does not exist cannot exist either: only the others are looked at, a few at once, so
  // a fresh install's journal costs its directories, not its files.
  const missingAbove = new Map<string, string[]>();
  for (const path of paths) {
    if (!isInside(path, realPrefix) && !isInside(path, prefix)) throw new Error(`${path} lies outside the venv ${prefix}; refusing`);
    const parent = dirname(path);
    if (missingAbove.has(parent)) continue;
    const missing: string[] = [];
    let dir = parent;
    while (!(await dirExists(dir))) {
      missing.push(dir);
      dir = dirname(dir);
    }
    if (!isInside(await realpath(dir), realPrefix)) throw new Error(`${dir} leads outside the venv ${prefix}; refusing`);
    missingAbove.set(parent, missing);
  }
  const looked = paths.filter((path) => missingAbove.get(dirname(path))?.length === 0);
  const found = await inBatches(looked, STATS_IN_FLIGHT, (path) => lstat(path).catch(() => undefined));
  const stats = new Map<string, Stats | undefined>(looked.map((path, j) => [path, found[j]]));
  for (const path of paths) {
    if (writes.has(path)) for (const dir of missingAbove.get(dirname(path)) ?? []) createdDirs.add(dir);
    const stat = stats.get(path);
    if (stat === undefined) {
      if (writes.has(path)) manifest.created.push(path);
      continue;
    }
    if (stat.isDirectory()) {
      if (writes.has(path)) throw new Error(`${path} is a directory, and the install would replace it with a file; refusing`);
      continue;
    }
    const entry = manifest.saved.length;
    const to = join(filesDir, String(entry));
    let linked = mode === "hardlink";
    if (linked) {
      // Across file systems (a state directory elsewhere) a link is impossible: that file is copied.
      linked = await link(path, to).then(
        () => true,
        () => false,
      );
    }
    if (!linked) await cpa(path, to);
    manifest.saved.push({ path, entry, link: linked });
  }
  manifest.createdDirs = [...createdDirs].sort();
  for (const dir of new Set(touch.removableDirs)) {
    const stat = await lstat(dir).catch(() => undefined);
    if (stat?.isDirectory() === true) manifest.dirs.push({ path: dir, mode: stat.mode & 0o7777 });
  }
  await writeDurably(join(backupDir, UNDO_MANIFEST), JSON.stringify(manifest));
  await fsyncPath(filesDir);
  await fsyncPath(backupDir);
  return manifest;
}

/** Temporary file, fsync, rename, fsync of the directory: the manifest is whole or absent after any crash. */
async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await rm(tmp, { force: true });
  const handle = await open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}

/**
 * Every path a manifest names must lie inside the venv, and no directory above it may lead out of it:
 * restoring unlinks and links those paths, so a tampered manifest must not reach anything else.
 */
export async function checkUndoPaths(manifest: UndoManifest, prefix: string): Promise<void> {
  const realPrefix = await realpath(prefix);
  const inside = (path: string): boolean => (isInside(path, realPrefix) && path !== realPrefix) || (isInside(path, prefix) && path !== prefix);
  const paths = [...manifest.saved.map((s) => s.path), ...manifest.created, ...manifest.createdDirs, ...manifest.dirs.map((d) => d.path), ...manifest.compiled];
  const parents = new Set<string>();
  for (const path of paths) {
    if (!inside(path)) throw new Error(`the undo journal names ${path}, outside the venv ${realPrefix}`);
    parents.add(dirname(path));
  }
  for (const parent of parents) {
    const real = await realpath(parent).catch(() => undefined);
    if (real !== undefined && !isInside(real, realPrefix)) throw new Error(`the undo journal names ${parent}, which leads outside the venv ${realPrefix}`);
  }
}

/** `{pyc}.{digits}`: the temporary name importlib writes a byte-compiled file under before renaming it. */
async function removeCompileTemps(compiled: readonly string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>();
  for (const pyc of compiled) {
    const names = byDir.get(dirname(pyc)) ?? new Set<string>();
    names.add(basename(pyc));
    byDir.set(dirname(pyc), names);
  }
  for (const [dir, names] of byDir) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) {
      const dot = entry.lastIndexOf(".");
      if (dot > 0 && names.has(entry.slice(0, dot)) && /^\d+$/.test(entry.slice(dot + 1))) await rm(join(dir, entry), { force: true });
    }
  }
}

/** Test-only: a throw or a hang here interrupts a restore after what was created is gone, before anything is put back. */
export interface RestoreHooks {
  midway?: () => Promise<void> | void;
}

/**
 * Puts every touched path back as it was. Run only on paths checkUndoPaths accepted (the commit's own
 * manifest, or one recovery checked). Idempotent: every step can be repeated after an interruption.
 */
export async function restoreUndo(backupDir: string, manifest: UndoManifest, hooks: RestoreHooks = {}): Promise<void> {
  const written = [...manifest.created, ...manifest.saved.map((s) => s.path)];
  for (const path of written) {
    await rm(path, { recursive: true, force: true });
    await rm(tempSibling(path, manifest.token), { force: true });
  }
  await removeCompileTemps(manifest.compiled);
  for (const dir of [...manifest.createdDirs].sort((a, b) => b.length - a.length)) await rm(dir, { recursive: true, force: true });
  await hooks.midway?.();
  for (const { path, mode } of [...manifest.dirs].sort((a, b) => a.path.length - b.path.length)) {
    await mkdir(path, { recursive: true });
    await chmod(path, mode);
  }
  for (const { path, entry, link: linked } of manifest.saved) {
    const from = join(backupDir, "files", String(entry));
    await mkdir(dirname(path), { recursive: true });
    if (linked) await link(from, path);
    else await cpa(from, path);
  }
}
