import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, readFile, readdir, rename, rm, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, type Result } from "../errors.js";
import { createOwnedDir, sweepOwnedDirs } from "../state/leftovers.js";
import { currentProcess, isProcessAlive, parseProcessTag, processTag } from "../state/process.js";
import { BYTES, MAKING_PREFIX, MANIFEST, makeEntry, type StoreWheel } from "./store-build.js";
import { StoreManifestSchema, storeKey, treePath, type StoredFile, type StoreInterpreter, type StoreManifest } from "./store-manifest.js";
import { inBatches } from "./batches.js";

/*
 * The store of unpacked, byte-compiled wheel trees under stateDir/store, one entry per (wheel sha256,
 * interpreter) — see store-manifest.ts for the key. A warm install copies (or, opted in, hardlinks)
 * files out of an entry instead of unpacking and compiling the wheel again.
 *
 * Before an entry is used it is checked against its manifest: for copies, every file's inode, size,
 * mtime and ctime (ctime cannot be set back, so any write, chmod or utime since the entry was made shows)
 * and a link count of one (no environment shares the inode); for hardlinks, whose link count and ctime
 * change with every install, the sha256 of every file. An entry that fails is moved aside and made
 * again, never used. The store is trusted as far as the state directory is: what it guards against is
 * an environment (or a crash) changing an entry, not a writer of the state directory itself.
 *
 * An entry in use carries a marker named for its user's process under users/; eviction (oldest use
 * first, down to the cap) skips entries with a live user, moves an entry aside before removing it, and
 * moves it back if a user arrived meanwhile. A user that loses that race sees a missing file and its
 * install fails and is rolled back: the race costs an install, never correctness.
 */

/** How an install takes files out of the store. */
export type LinkMode = "copy" | "hardlink";

/** An entry held for one install; release() when the install is over, whatever its outcome. */
export interface HeldEntry {
  dir: string;
  manifest: StoreManifest;
  /** Where a stored file is in the store. */
  pathOf(file: StoredFile): string;
  /** What happened: "hit" a verified entry, "made" it now, "remade" after one failed its check. */
  how: "hit" | "made" | "remade";
  release(): Promise<void>;
}

const TRASH_PREFIX = "evict";
const CHECKS_IN_FLIGHT = 32;
/** A stored file up to this size is hashed from one read; a larger one is streamed. */
const WHOLE_READ_MAX = 4 * 1024 * 1024;
/** Far above a real manifest (numpy's is under 1 MB); a larger file is not read. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export function storeDirOf(stateDir: string): string {
  return join(stateDir, "store");
}

/**
 * The verified entry for this wheel and interpreter, made if it is missing or fails its check, and
 * marked in use. Fails (nothing held) when the wheel cannot be unpacked or the entry cannot be made.
 */
export async function openEntry(
  storeDir: string,
  wheel: StoreWheel,
  python: string,
  interpreter: StoreInterpreter,
  mode: LinkMode,
): Promise<Result<HeldEntry>> {
  const key = storeKey(wheel.sha256, interpreter);
  const dir = join(storeDir, "entries", key);
  let how: HeldEntry["how"] = "hit";
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const marker = await mark(dir);
    if (marker !== undefined) {
      const checked = await checkEntry(dir, key, mode);
      if (checked.ok) {
        await utimes(join(dir, "users"), new Date(), new Date()).catch(() => undefined);
        return {
          ok: true,
          value: {
            dir,
            manifest: checked.value,
            how,
            pathOf: (file) => join(dir, "tree", ...treePath(file).split("/")),
            release: () => unlink(marker).catch(() => undefined),
          },
        };
      }
      await unlink(marker).catch(() => undefined);
      // Failed its check: moved aside (its users keep what they hold) and made again.
      await discard(storeDir, dir);
      how = "remade";
    } else {
      // An entry is renamed into place whole, manifest included: a directory without one is debris.
      if (
        await lstat(dir).then(
          () => true,
          () => false,
        )
      )
        await discard(storeDir, dir);
      if (how === "hit") how = "made";
    }
    const made = await makeEntry(storeDir, key, wheel, python, interpreter);
    if (!made.ok) return made;
  }
  return { ok: false, error: `the store entry for ${wheel.file} kept changing while it was opened` };
}

/** Whether the store has an entry (made whole: its manifest is there) for this wheel and interpreter; not checked. */
export async function hasEntry(storeDir: string, wheelSha256: string, interpreter: StoreInterpreter): Promise<boolean> {
  return lstat(join(storeDir, "entries", storeKey(wheelSha256, interpreter), MANIFEST)).then(
    () => true,
    () => false,
  );
}

/** Writes this user's marker into the entry, or undefined when there is no entry. */
async function mark(dir: string): Promise<string | undefined> {
  const users = join(dir, "users");
  try {
    await lstat(join(dir, MANIFEST));
    await mkdir(users, { recursive: true });
    const marker = join(users, `${processTag(await currentProcess())}-${randomBytes(4).toString("hex")}`);
    await writeFile(marker, "", { flag: "wx" });
    return marker;
  } catch {
    return undefined;
  }
}

async function checkEntry(dir: string, key: string, mode: LinkMode): Promise<Result<StoreManifest>> {
  try {
    const path = join(dir, MANIFEST);
    const st = await lstat(path);
    if (!st.isFile() || st.size > MAX_MANIFEST_BYTES) return { ok: false, error: "the manifest is not a regular file of a sane size" };
    const parsed = StoreManifestSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
    if (!parsed.success) return { ok: false, error: "the manifest does not parse" };
    if (parsed.data.key !== key) return { ok: false, error: "the manifest is another entry's" };
    // A few checks in flight at once: libuv's pool does the stats side by side.
    const files = parsed.data.files;
    const problems = await inBatches(files, CHECKS_IN_FLIGHT, (file) => checkFile(join(dir, "tree", ...treePath(file).split("/")), file, mode), {
      until: (problem) => problem !== undefined,
    });
    const index = problems.findIndex((p) => p !== undefined);
    if (index >= 0) return { ok: false, error: `${treePath(files[index] ?? { scheme: "lib", path: "?" })}: ${String(problems[index])}` };
    return { ok: true, value: parsed.data };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

async function checkFile(path: string, file: StoredFile, mode: LinkMode): Promise<string | undefined> {
  const st = await lstat(path, { bigint: true });
  if (!st.isFile()) return "not a regular file";
  if (st.size !== BigInt(file.size)) return "size changed";
  if (String(st.mtimeNs) !== file.mtimeNs) return "mtime changed";
  if (mode === "copy") {
    if (String(st.ino) !== file.ino || String(st.ctimeNs) !== file.ctimeNs) return "changed since it was made";
    if (st.nlink !== 1n) return "shared with another file";
    return undefined;
  }
  const hash = createHash("sha256");
  // One read for a file of ordinary size (most of a wheel's), a stream for a large one.
  if (file.size <= WHOLE_READ_MAX) hash.update(await readFile(path));
  else for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex") === file.sha256 ? undefined : "contents changed";
}

/** Moves an entry out of entries/ (atomically: no reader sees it half-removed), then removes it. */
async function discard(storeDir: string, dir: string): Promise<void> {
  const trash = await createOwnedDir(join(storeDir, "trash"), TRASH_PREFIX);
  try {
    await rename(dir, join(trash, "entry"));
  } catch {
    // Already gone (another process discarded or evicted it).
  }
  await rm(trash, { recursive: true, force: true });
}

async function liveUsers(dir: string): Promise<boolean> {
  const names = await readdir(join(dir, "users")).catch(() => [] as string[]);
  for (const name of names) {
    const owner = parseProcessTag(name.split("-")[0] ?? "");
    if (owner === undefined || (await isProcessAlive(owner))) return true;
  }
  return false;
}

/** What eviction did. */
export interface EvictReport {
  evicted: string[];
  bytes: number;
}

/**
 * Evicts the least recently used entries until the store holds at most maxBytes, never one with a live
 * user: an entry is moved aside first, and moved back when a user marked it meanwhile.
 */
export async function evictStore(storeDir: string, maxBytes: number): Promise<EvictReport> {
  const entriesDir = join(storeDir, "entries");
  const names = await readdir(entriesDir).catch(() => [] as string[]);
  const entries: Array<{ key: string; bytes: number; used: number }> = [];
  for (const key of names) {
    const dir = join(entriesDir, key);
    const bytes = await entryBytes(dir);
    const used = await stat(join(dir, "users")).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    entries.push({ key, bytes, used });
  }
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const evicted: string[] = [];
  for (const entry of entries.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    const dir = join(entriesDir, entry.key);
    if (await liveUsers(dir)) continue;
    const trash = await createOwnedDir(join(storeDir, "trash"), TRASH_PREFIX);
    const moved = join(trash, "entry");
    const gone = await rename(dir, moved).then(
      () => true,
      () => false,
    );
    if (gone && (await liveUsers(moved))) {
      // A user marked it between the look and the move: it goes back, untouched.
      await rename(moved, dir).catch(() => undefined);
    } else if (gone) {
      evicted.push(entry.key);
      total -= entry.bytes;
    }
    await rm(trash, { recursive: true, force: true });
  }
  return { evicted, bytes: total };
}

/** An entry's size as it recorded it; an unreadable one counts as nothing (it is remade when used). */
async function entryBytes(dir: string): Promise<number> {
  const text = await readFile(join(dir, BYTES), { encoding: "utf8", flag: "r" }).catch(() => "");
  return /^\d{1,15}$/.test(text) ? Number(text) : 0;
}

/** Start-up: removes entries a dead process was making or removing; a half-made entry is never in entries/. */
export async function sweepStore(stateDir: string): Promise<string[]> {
  const storeDir = storeDirOf(stateDir);
  return [...(await sweepOwnedDirs(join(storeDir, "tmp"), MAKING_PREFIX)), ...(await sweepOwnedDirs(join(storeDir, "trash"), TRASH_PREFIX))];
}
