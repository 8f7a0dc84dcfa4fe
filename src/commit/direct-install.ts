import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { constants, readFileSync } from "node:fs";
import { chmod, copyFile, link, mkdir, readFile, realpath, rename, unlink, utimes, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import type { EntryPoints } from "../verify/entry-points.js";
import { inspectWheel } from "../verify/wheel.js";
import { openZip, type ZipArchive, type ZipEntry } from "../verify/zip-reader.js";
import { isInside } from "./backup.js";
import { formatRecord, recordHash, type RecordRow } from "./direct-record.js";
import { entryPointScript, fixScriptShebang } from "./direct-scripts.js";
import { applyUninstall, findInstalledDistInfo, planUninstall, type UninstallPlan } from "./direct-uninstall.js";
import type { InterpreterInfo } from "./interpreter.js";
import { compiledPairs } from "./compile-answer.js";
import { isolatedEnv, type StagedWheel } from "./pip-command.js";
import { COMPILE_MARK } from "./stray.js";
import { hasEntry, openEntry, type HeldEntry, type LinkMode } from "./store.js";
import type { StoredFile } from "./store-manifest.js";
import { tempSibling, type TouchSet } from "./undo.js";
import { normalizeName } from "../requirement/name.js";

/*
 * The direct installer: what the venv's pip would do with these verified wheels, without pip's start-up.
 * It unpacks each wheel as the binary distribution format says (pypa/installer's steps), writes the
 * console and GUI scripts and .data/scripts as pip 23 writes them, and leaves a RECORD that pip,
 * importlib.metadata and `pip uninstall` read as their own. No code from the wheels runs.
 *
 * Every file is written to a fresh temporary name beside its destination and renamed over it: an
 * existing inode is never written into, which is what makes a hardlinked backup a correct one.
 *
 * Byte-compiling: done as pip does by default (compileall.compile_file, forced, per installed .py file;
 * py_compile writes each .pyc by temporary file and rename, too), in one `python -I` run, or one per
 * core for a wheel of hundreds of modules; the .pyc files are listed in RECORD without a hash, as pip
 * lists them. An environment therefore looks the same whichever installer ran.
 *
 * With the store (store.ts, the default), each wheel's files come from its entry of unpacked,
 * byte-compiled files, made once per (wheel, interpreter): copied (reflinked where the file system can,
 * the mtime kept so the timestamp-checked .pyc stays valid) or, opted in, hardlinked to a fresh name
 * renamed into place, as any other file. The .pyc files come from the entry too; only .data/scripts
 * (whose shebang names the venv's interpreter) and the entry-point wrappers are made per install, and
 * RECORD, INSTALLER and REQUESTED are always written, never linked.
 *
 * The install is planned first (planDirect: every path it removes or writes, each .pyc included) so
 * that the commit's undo journal covers exactly those paths before applyDirect writes the first one.
 */

/** Test-only points inside the direct install, the counterpart of the pip installer's fault hooks. */
export interface DirectHooks {
  /** After each file written (uninstalls done first): a throw here fails the install between two files. */
  afterFile?: (written: number) => Promise<void> | void;
  /** Each byte-compiling process, once spawned and before it is given any path: recovery kills a stray one. */
  onCompileSpawn?: (pid: number) => Promise<void> | void;
}

/** What one direct install did, for the caller's checks and the benchmark. */
export interface DirectReport {
  files: number;
  removed: number;
  /** of the whole, the time the byte-compiling took */
  compileMs: number;
}

interface Destinations {
  purelib: string;
  platlib: string;
  scripts: string;
  data: string;
  headers: string;
}

/** Where a planned file's bytes come from: made by this install, or a file of a held store entry. */
type FileSource = { kind: "bytes"; data: () => Buffer } | { kind: "store"; path: string; file: StoredFile };

/** One file a wheel puts in place: where, under which root (for the containment check), and its bytes. */
interface PlannedFile {
  target: string;
  root: string;
  mode: number;
  source: FileSource;
}

interface PlannedWheel {
  wheel: StagedWheel;
  libRoot: string;
  distInfo: string;
  files: PlannedFile[];
  /** The .py files this install compiles, each with the byte-compiled file the interpreter will write for it. */
  sources: Array<{ source: string; pyc: string }>;
  /** The byte-compiled files that come from the store. */
  storedPyc: string[];
  requested: boolean;
}

/**
 * Everything a direct install will do, worked out before it does any of it: the undo journal is made
 * from this, and the install then writes exactly these paths (and nothing else).
 */
export interface DirectPlan {
  token: string;
  removals: UninstallPlan[];
  wheels: PlannedWheel[];
  keepDirs: string[];
  /** The store entries the plan takes files from, held until releasePlan. */
  held: HeldEntry[];
  link: LinkMode;
  /** Wheels installed directly for want of an entry (store.cold "direct"): their entries are made after the commit. */
  cold: StagedWheel[];
}

/** Lets the store evict the plan's entries again; call once the commit is over, whatever its outcome. */
export async function releasePlan(plan: DirectPlan): Promise<void> {
  for (const entry of plan.held) await entry.release();
}

const INSTALLER_NAME = "pipgate\n";

// compileall as pip calls it (force, quiet, warnings off); prints [source, pyc] for each success.
// The first line names the process for start-up recovery, which kills one its dead broker left.
const COMPILE = `${COMPILE_MARK}
import sys, json, io, contextlib, warnings, compileall, importlib.util
paths = json.load(sys.stdin)
done = []
with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
    warnings.filterwarnings("ignore")
    for p in paths:
        if compileall.compile_file(p, force=True, quiet=1):
            done.append([p, importlib.util.cache_from_source(p)])
print(json.dumps(done))
`;
import { inBatches } from "./batches.js";

/** Which distributions get REQUESTED: the named ones, or every one when the caller names none. */
export interface PlanOptions {
  requested?: readonly string[];
  token: string;
  /**
   * Take files from the store under this directory (the default of the commit); without it, unpack and
   * compile per install. `cold: "direct"`: a wheel without an entry yet is unpacked and compiled into
   * the venv directly, and named in the plan's `cold` for its entry to be made after the commit.
   */
  store?: { dir: string; link: LinkMode; cold?: "direct" | "store" };
}

/**
 * Works out the install of the staged (already hash-checked) wheels into the interpreter's venv: any
 * other installed version of each is uninstalled by its RECORD first. Reads the wheels and RECORDs,
 * writes nothing; throws on a wheel or RECORD it cannot install.
 */
export async function planDirect(python: string, info: InterpreterInfo, wheels: readonly StagedWheel[], opts: PlanOptions): Promise<DirectPlan> {
  if (info.cache_tag === null) throw new Error(`${python} has no bytecode cache tag; pipgate cannot byte-compile for it`);
  const installed = new Map(info.installed.map((p) => [normalizeName(p.name), p.version]));
  const keepDirs = [info.purelib, info.platlib, info.scripts, info.data];
  const removals: UninstallPlan[] = [];
  for (const wheel of wheels) {
    if (!installed.has(normalizeName(wheel.name))) continue;
    const distInfo = await findInstalledDistInfo([info.purelib, info.platlib], wheel.name);
    if (distInfo === undefined) throw new Error(`${wheel.name} is installed without a .dist-info; pipgate cannot uninstall it`);
    removals.push(await planUninstall(distInfo, info.prefix, keepDirs));
  }
  const requested = opts.requested === undefined ? undefined : new Set(opts.requested.map(normalizeName));
  const planned: PlannedWheel[] = [];
  const held: HeldEntry[] = [];
  const cold: StagedWheel[] = [];
  try {
    for (const wheel of wheels) {
      const isRequested = requested === undefined || requested.has(normalizeName(wheel.name));
      if (opts.store === undefined) {
        planned.push(await planWheel(python, info, wheel, info.cache_tag, isRequested));
        continue;
      }
      const interpreter = { cacheTag: info.cache_tag, magic: info.magic };
      if (opts.store.cold === "direct" && !(await hasEntry(opts.store.dir, wheel.sha256, interpreter))) {
        planned.push(await planWheel(python, info, wheel, info.cache_tag, isRequested));
        cold.push(wheel);
        continue;
      }
      const entry = await openEntry(opts.store.dir, wheel, python, interpreter, opts.store.link);
      if (!entry.ok) throw new Error(entry.error);
      held.push(entry.value);
      planned.push(planStoredWheel(python, info, wheel, entry.value, info.cache_tag, isRequested));
    }
  } catch (error) {
    for (const entry of held) await entry.release();
    throw error;
  }
  return { token: opts.token, removals, wheels: planned, keepDirs, held, link: opts.store?.link ?? "copy", cold };
}

/** Every path the plan removes or writes, for the undo journal. */
export function touchSet(plan: DirectPlan): TouchSet {
  const writes: string[] = [];
  const compiled: string[] = [];
  for (const w of plan.wheels) {
    writes.push(...w.files.map((f) => f.target), ...distInfoFiles(w).map((f) => join(w.distInfo, f)));
    for (const { pyc } of w.sources) compiled.push(pyc);
    compiled.push(...w.storedPyc);
  }
  return {
    removes: plan.removals.flatMap((r) => r.files),
    removableDirs: plan.removals.flatMap((r) => r.dirs),
    writes: [...writes, ...compiled],
    compiled,
  };
}

function distInfoFiles(w: PlannedWheel): string[] {
  return ["INSTALLER", ...(w.requested ? ["REQUESTED"] : []), "RECORD"];
}

/**
 * Carries the plan out: uninstalls, then every file by a fresh inode renamed into place, then the
 * byte-compiling, then INSTALLER, REQUESTED and RECORD. Throws on any problem; the caller restores
 * from its undo journal, so nothing here tries to undo a half-done install.
 */
export async function applyDirect(
  python: string,
  plan: DirectPlan,
  prefix: string,
  hooks: DirectHooks = {},
  created: ReadonlySet<string> = new Set(),
): Promise<DirectReport> {
  let removed = 0;
  for (const removal of plan.removals) removed += await applyUninstall(removal, prefix, plan.keepDirs);
  const writer = await createWriter(hooks, plan.token, plan.link, created);
  const rows = new Map<PlannedWheel, RecordRow[]>();
  for (const w of plan.wheels) {
    const own: RecordRow[] = [];
    const one = async (file: PlannedFile): Promise<RecordRow> => {
      const { source } = file;
      if (source.kind === "bytes") return recordRow(w.libRoot, file.target, await writer.write(file.target, source.data(), file.root, file.mode));
      await writer.place(file.target, source.path, source.file, file.root, file.mode);
      return storedRow(w.libRoot, file.target, source.file);
    };
    // A few files in flight at once; every one settles before a failure is thrown, so nothing is still
    // being written when the caller restores from the undo journal.
    own.push(...(await inBatches(w.files, WRITES_IN_FLIGHT, one)));
    rows.set(w, own);
  }
  const expected = new Map(plan.wheels.flatMap((w) => w.sources.map(({ source, pyc }) => [source, pyc] as const)));
  const compileStarted = performance.now();
  const compiled = new Map(await compile(python, [...expected.keys()].sort(), hooks));
  const compileMs = performance.now() - compileStarted;
  for (const [source, pyc] of compiled) {
    // Only the planned file may appear: anything else would be outside the undo journal.
    if (expected.get(source) !== pyc) throw new Error(`byte-compiling ${source} wrote ${pyc}, not the expected ${String(expected.get(source))}`);
  }
  for (const w of plan.wheels) {
    const own = rows.get(w) ?? [];
    for (const { source } of w.sources) {
      const pyc = compiled.get(source);
      if (pyc !== undefined) own.push({ path: recordPath(w.libRoot, pyc), hash: "", size: "" });
    }
    const installer = await writer.write(join(w.distInfo, "INSTALLER"), Buffer.from(INSTALLER_NAME), w.libRoot, 0o666);
    own.push(recordRow(w.libRoot, join(w.distInfo, "INSTALLER"), installer));
    if (w.requested) {
      const requested = await writer.write(join(w.distInfo, "REQUESTED"), Buffer.alloc(0), w.libRoot, 0o666);
      own.push(recordRow(w.libRoot, join(w.distInfo, "REQUESTED"), requested));
    }
    own.push({ path: recordPath(w.libRoot, join(w.distInfo, "RECORD")), hash: "", size: "" });
    await writer.write(join(w.distInfo, "RECORD"), Buffer.from(formatRecord(own)), w.libRoot, 0o666);
  }
  return { files: writer.count(), removed, compileMs };
}

/** Reads one wheel and lists its files and scripts; RECORD, INSTALLER and REQUESTED come later. */
async function planWheel(python: string, info: InterpreterInfo, wheel: StagedWheel, cacheTag: string, requested: boolean): Promise<PlannedWheel> {
  const inspection = plannedInspection(wheel);
  const opened = openZip(await readFile(wheel.file));
  if (!opened.ok) throw new Error(`${inspection.filename}: ${opened.error}`);
  const archive = opened.value;
  const files = archive.entries.filter((e) => !e.name.endsWith("/"));
  const distInfoName = files.map((e) => e.name.split("/")).find((p) => p.length === 2 && p[1] === "WHEEL" && p[0]?.endsWith(".dist-info"))?.[0];
  if (distInfoName === undefined) throw new Error(`${inspection.filename} has no .dist-info/WHEEL`);
  const dataDir = `${distInfoName.slice(0, -".dist-info".length)}.data`;
  const purelib = /^Root-Is-Purelib:[ \t]*true[ \t]*$/im.test(read(archive, files, `${distInfoName}/WHEEL`).toString("utf8"));
  const dest = destinations(info, wheel.name);
  const libRoot = purelib ? dest.purelib : dest.platlib;
  const scriptNames = new Set([...Object.keys(inspection.entryPoints.console_scripts), ...Object.keys(inspection.entryPoints.gui_scripts)]);

  const planned: PlannedFile[] = [];
  const sources: PlannedWheel["sources"] = [];
  for (const entry of files) {
    if (entry.name === `${distInfoName}/RECORD`) continue;
    const parts = entry.name.split("/");
    let target: string;
    let root: string;
    let data = (): Buffer => read(archive, files, entry.name);
    let mode = zipExecutable(entry) ? 0o777 : 0o666;
    if (parts[0] === dataDir) {
      const scheme = parts[1] as keyof Destinations;
      root = dest[scheme];
      target = join(root, ...parts.slice(2));
      if (scheme === "scripts") {
        // setuptools' own wrappers for the entry points are skipped: the generated ones replace them.
        if (parts.length === 3 && scriptNames.has(wrapperName(parts[2] ?? ""))) continue;
        const raw = data;
        data = () => fixScriptShebang(raw(), python);
        mode = 0o777;
      }
    } else {
      root = libRoot;
      target = join(root, ...parts);
    }
    planned.push({ target, root, mode, source: { kind: "bytes", data } });
    if (target.endsWith(".py"))
      sources.push({ source: target, pyc: join(dirname(target), "__pycache__", `${basename(target).slice(0, -".py".length)}.${cacheTag}.pyc`) });
  }
  for (const section of ["console_scripts", "gui_scripts"] as const) {
    for (const [name, reference] of Object.entries(inspection.entryPoints[section])) planned.push(entryPointFile(python, dest, name, reference));
  }
  return { wheel, libRoot, distInfo: join(libRoot, distInfoName), files: planned, sources, storedPyc: [], requested };
}

/**
 * What the plan needs of a wheel's inspection: its name and entry points. The verify stage inspected these
 * very bytes (the staged copy was re-hashed against the sha256 it verified), and passes what it found;
 * without that (a caller of its own), the staged copy is inspected here.
 */
function plannedInspection(wheel: StagedWheel): { filename: string; entryPoints: EntryPoints } {
  if (wheel.entryPoints !== undefined) return { filename: basename(wheel.file), entryPoints: wheel.entryPoints };
  const inspected = inspectWheel(wheel.file, { allowPth: true });
  if (!inspected.ok) throw new Error(inspected.error);
  const { inspection } = inspected;
  if (inspection.problems.length > 0) {
    throw new Error(`${inspection.filename} cannot be installed: ${inspection.problems.slice(0, 5).join("; ")}`);
  }
  return inspection;
}

function entryPointFile(python: string, dest: Destinations, name: string, reference: string): PlannedFile {
  // Built when written: a reference without a callable fails the install there, as pip's does.
  return {
    target: join(dest.scripts, name),
    root: dest.scripts,
    mode: 0o777,
    source: { kind: "bytes", data: () => Buffer.from(entryPointScript(python, reference)) },
  };
}

/**
 * The same plan as planWheel's, from a verified store entry: the wheel's files by scheme, its .pyc files
 * as the interpreter compiled them, and the metadata the manifest kept (no unzipping, no inspection:
 * the entry was made from these very bytes, by sha256, after the same inspection).
 */
function planStoredWheel(python: string, info: InterpreterInfo, wheel: StagedWheel, entry: HeldEntry, cacheTag: string, requested: boolean): PlannedWheel {
  const { manifest } = entry;
  const dest = destinations(info, wheel.name);
  const libRoot = manifest.purelib ? dest.purelib : dest.platlib;
  const scriptNames = new Set([...Object.keys(manifest.entryPoints.console_scripts), ...Object.keys(manifest.entryPoints.gui_scripts)]);
  const planned: PlannedFile[] = [];
  const sources: PlannedWheel["sources"] = [];
  const storedPyc: string[] = [];
  for (const file of manifest.files) {
    const root = file.scheme === "lib" ? libRoot : dest[file.scheme];
    const target = join(root, ...file.path.split("/"));
    const stored = entry.pathOf(file);
    if (file.scheme === "scripts") {
      // setuptools' own wrappers for the entry points are skipped: the generated ones replace them.
      if (!file.path.includes("/") && scriptNames.has(wrapperName(file.path))) continue;
      planned.push({ target, root, mode: 0o777, source: { kind: "bytes", data: () => fixScriptShebang(readStored(stored, file), python) } });
      if (target.endsWith(".py"))
        sources.push({ source: target, pyc: join(dirname(target), "__pycache__", `${basename(target).slice(0, -".py".length)}.${cacheTag}.pyc`) });
      continue;
    }
    planned.push({ target, root, mode: file.mode === 0o755 ? 0o777 : 0o666, source: { kind: "store", path: stored, file } });
    if (file.pyc) storedPyc.push(target);
  }
  for (const section of ["console_scripts", "gui_scripts"] as const) {
    for (const [name, reference] of Object.entries(manifest.entryPoints[section])) planned.push(entryPointFile(python, dest, name, reference));
  }
  return { wheel, libRoot, distInfo: join(libRoot, manifest.distInfo), files: planned, sources, storedPyc, requested };
}

/** A stored script read for its shebang to be rewritten: it must still be what the manifest says. */
function readStored(path: string, file: StoredFile): Buffer {
  const data = readFileSync(path);
  if (data.length !== file.size || createHash("sha256").update(data).digest("hex") !== file.sha256) throw new Error(`${path} changed in the store; refusing`);
  return data;
}

/** A RECORD row for a file taken from the store: its recorded hash and size, or none for a .pyc, as pip lists them. */
function storedRow(libRoot: string, path: string, file: StoredFile): RecordRow {
  if (file.pyc) return { path: recordPath(libRoot, path), hash: "", size: "" };
  return { path: recordPath(libRoot, path), hash: `sha256=${Buffer.from(file.sha256, "hex").toString("base64url")}`, size: String(file.size) };
}

function read(archive: ZipArchive, files: readonly ZipEntry[], name: string): Buffer {
  const entry = files.find((e) => e.name === name);
  if (entry === undefined) throw new Error(`${name} is missing from the wheel`);
  const data = archive.read(entry);
  if (!data.ok) throw new Error(data.error);
  return data.value;
}

/** Where each `.data/<scheme>/` lands: the interpreter's scheme paths, and pip's venv layout for headers. */
function destinations(info: InterpreterInfo, name: string): Destinations {
  const version = /python(\d+\.\d+)/.exec(info.purelib)?.[1];
  const headers = version === undefined ? "" : join(info.prefix, "include", "site", `python${version}`, name);
  return { purelib: info.purelib, platlib: info.platlib, scripts: info.scripts, data: info.data, headers };
}

/** "demo", "demo.exe", "demo-script.py" and "demo.pya" all stand for the entry point "demo". */
function wrapperName(file: string): string {
  const lower = file.toLowerCase();
  if (lower.endsWith(".exe") || lower.endsWith(".pya")) return file.slice(0, -4);
  if (lower.endsWith("-script.py")) return file.slice(0, -10);
  return file;
}

function zipExecutable(entry: ZipEntry): boolean {
  const mode = entry.externalAttrs >>> 16;
  return (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0;
}

function recordPath(libRoot: string, path: string): string {
  return relative(libRoot, path).split(sep).join("/");
}

function recordRow(libRoot: string, path: string, data: Buffer): RecordRow {
  return { path: recordPath(libRoot, path), hash: recordHash(data), size: String(data.length) };
}

/** Files a direct install writes side by side (each its own temporary name and rename). */
const WRITES_IN_FLIGHT = 16;

/** Sources per byte-compiling process: below this, a second interpreter start costs more than it saves. */
const COMPILE_CHUNK = 200;

/**
 * Byte-compiles as pip does by default (compileall.compile_file, forced, per file), in up to one
 * process per core when there are many files: each file's .pyc is the same whichever process wrote it.
 */
async function compile(python: string, sources: readonly string[], hooks: DirectHooks): Promise<Array<[string, string]>> {
  if (sources.length === 0) return [];
  const workers = Math.max(1, Math.min(availableParallelism(), Math.ceil(sources.length / COMPILE_CHUNK)));
  const chunks = Array.from({ length: workers }, (_, i) => sources.filter((_, j) => j % workers === i));
  const results = await Promise.all(chunks.map((chunk) => compileChunk(python, chunk, hooks)));
  return results.flat();
}

async function compileChunk(python: string, sources: readonly string[], hooks: DirectHooks): Promise<Array<[string, string]>> {
  const { execa } = await import("execa"); // on first use: start-up (pipgate install) does not load it
  const child = execa(python, ["-I", "-c", COMPILE], { env: isolatedEnv(process.env), extendEnv: false, reject: false, stdin: "pipe" });
  try {
    if (child.pid !== undefined) await hooks.onCompileSpawn?.(child.pid);
  } catch (error) {
    child.kill("SIGKILL");
    await child;
    throw error;
  }
  child.stdin?.end(JSON.stringify(sources));
  return compiledPairs(python, await child);
}

interface Writer {
  /** Writes data to a new inode renamed over path; refuses a destination that resolves outside root. */
  write(path: string, data: Buffer, root: string, mode: number): Promise<Buffer>;
  /** Puts a store file at path the same way: a copy (or a hardlink) under a fresh name, renamed over it. */
  place(path: string, from: string, file: StoredFile, root: string, mode: number): Promise<void>;
  count(): number;
}

/**
 * `created`: the paths the undo journal found empty (it removes them on a restore). Nothing is there to
 * replace, so each is made in place, exclusively (a file that appeared meanwhile fails the install),
 * without a temporary name and a rename; every other path gets a fresh inode renamed over it.
 */
async function createWriter(hooks: DirectHooks, token: string, linkMode: LinkMode, created: ReadonlySet<string>): Promise<Writer> {
  const realRoots = new Map<string, string>();
  const checkedDirs = new Set<string>();
  // What a file gets when the venv's pip writes it: the requested mode less this process's umask.
  const umask = process.umask();
  let written = 0;
  const checkPlace = async (path: string, root: string): Promise<void> => {
    if (root === "") throw new Error(`${path}: no install path for this file`);
    if (!isInside(path, root) || path === root) throw new Error(`${path} would land outside ${root}; refusing`);
    const parent = dirname(path);
    if (checkedDirs.has(parent)) return;
    await mkdir(parent, { recursive: true });
    let realRoot = realRoots.get(root);
    if (realRoot === undefined) {
      realRoot = await realpath(root);
      realRoots.set(root, realRoot);
    }
    // A symlinked directory already in the venv must not carry a wheel's file out of it.
    if (!isInside(await realpath(parent), realRoot)) throw new Error(`${parent} leads outside ${root}; refusing`);
    checkedDirs.add(parent);
  };
  // Named by the commit's token, so a restore after a crash finds and removes it.
  const viaTemp = async (path: string, make: (tmp: string) => Promise<void>): Promise<void> => {
    if (created.has(path)) {
      await make(path);
      written += 1;
      await hooks.afterFile?.(written);
      return;
    }
    const tmp = tempSibling(path, token);
    try {
      await make(tmp);
      await rename(tmp, path);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
    written += 1;
    await hooks.afterFile?.(written);
  };
  return {
    count: () => written,
    async write(path, data, root, mode) {
      await checkPlace(path, root);
      await viaTemp(path, (tmp) => writeFile(tmp, data, { flag: "wx", mode }));
      return data;
    },
    async place(path, from, file, root, mode) {
      await checkPlace(path, root);
      await viaTemp(path, async (tmp) => {
        if (linkMode === "hardlink") return link(from, tmp);
        // A reflink where the file system has them, else a copy: never the store's inode.
        await copyFile(from, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        await chmod(tmp, mode & ~umask);
        // The timestamp-checked .pyc names its source's mtime: a source's copy keeps the stored one.
        // Any other file is new to the venv, as pip's files are: its own mtime is what pip leaves.
        if (!file.path.endsWith(".py")) return;
        const mtime = Number(BigInt(file.mtimeNs) / 1000n) / 1e6;
        await utimes(tmp, mtime, mtime);
      });
    },
  };
}
