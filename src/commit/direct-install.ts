import { randomBytes } from "node:crypto";
import { mkdir, readFile, realpath, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { execa } from "execa";
import { z } from "zod";
import { inspectWheel } from "../verify/wheel.js";
import { openZip, type ZipArchive, type ZipEntry } from "../verify/zip-reader.js";
import { isInside } from "./backup.js";
import { formatRecord, recordHash, type RecordRow } from "./direct-record.js";
import { entryPointScript, fixScriptShebang } from "./direct-scripts.js";
import { findInstalledDistInfo, uninstallDistribution } from "./direct-uninstall.js";
import type { InterpreterInfo } from "./interpreter.js";
import { lastLine } from "./interpreter.js";
import { isolatedEnv, type StagedWheel } from "./pip-command.js";
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
 * Byte-compiling: done, as pip does by default, in one `python -I` run over the installed .py files
 * (py_compile writes each .pyc by temporary file and rename, too); the .pyc files are listed in RECORD
 * without a hash, as pip lists them. An environment therefore looks the same whichever installer ran.
 */

/** Test-only points inside the direct install, the counterpart of the pip installer's fault hooks. */
export interface DirectHooks {
  /** After each file written (uninstalls done first): a throw here fails the install between two files. */
  afterFile?: (written: number) => Promise<void> | void;
}

/** What one direct install did, for the caller's checks and the benchmark. */
export interface DirectReport {
  files: number;
  removed: number;
}

interface Destinations {
  purelib: string;
  platlib: string;
  scripts: string;
  data: string;
  headers: string;
}

interface Unpacked {
  wheel: StagedWheel;
  libRoot: string;
  distInfo: string;
  rows: RecordRow[];
  sources: string[];
}

const INSTALLER_NAME = "pipgate\n";

const CompiledSchema = z.array(z.tuple([z.string(), z.string()]));

// compileall as pip calls it (force, quiet, warnings off); prints [source, pyc] for each success.
const COMPILE = `
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

/**
 * Installs the staged (already hash-checked) wheels into the interpreter's venv: any other installed
 * version of each is uninstalled by its RECORD first. Throws on any problem; the caller restores the
 * backup, so nothing here tries to undo a half-done install.
 */
export async function installWheelsDirect(
  python: string,
  info: InterpreterInfo,
  wheels: readonly StagedWheel[],
  hooks: DirectHooks = {},
): Promise<DirectReport> {
  const installed = new Map(info.installed.map((p) => [normalizeName(p.name), p.version]));
  let removed = 0;
  for (const wheel of wheels) {
    if (!installed.has(normalizeName(wheel.name))) continue;
    const distInfo = await findInstalledDistInfo([info.purelib, info.platlib], wheel.name);
    if (distInfo === undefined) throw new Error(`${wheel.name} is installed without a .dist-info; pipgate cannot uninstall it`);
    removed += await uninstallDistribution(distInfo, info.prefix, [info.purelib, info.platlib, info.scripts, info.data]);
  }
  const writer = await createWriter(hooks);
  const unpacked: Unpacked[] = [];
  for (const wheel of wheels) unpacked.push(await unpackWheel(python, info, wheel, writer));

  const sources = [...new Set(unpacked.flatMap((u) => u.sources))].sort();
  const compiled = new Map(await compile(python, sources));
  for (const u of unpacked) {
    for (const source of u.sources) {
      const pyc = compiled.get(source);
      if (pyc !== undefined) u.rows.push({ path: recordPath(u.libRoot, pyc), hash: "", size: "" });
    }
    const installer = await writer.write(join(u.distInfo, "INSTALLER"), Buffer.from(INSTALLER_NAME), u.libRoot, 0o666);
    const requested = await writer.write(join(u.distInfo, "REQUESTED"), Buffer.alloc(0), u.libRoot, 0o666);
    u.rows.push(
      recordRow(u.libRoot, join(u.distInfo, "INSTALLER"), installer),
      recordRow(u.libRoot, join(u.distInfo, "REQUESTED"), requested),
    );
    u.rows.push({ path: recordPath(u.libRoot, join(u.distInfo, "RECORD")), hash: "", size: "" });
    await writer.write(join(u.distInfo, "RECORD"), Buffer.from(formatRecord(u.rows)), u.libRoot, 0o666);
  }
  return { files: writer.count(), removed };
}

/** Reads one wheel and writes its files and scripts; RECORD, INSTALLER and REQUESTED come later. */
async function unpackWheel(python: string, info: InterpreterInfo, wheel: StagedWheel, writer: Writer): Promise<Unpacked> {
  const inspected = inspectWheel(wheel.file, { allowPth: true });
  if (!inspected.ok) throw new Error(inspected.error);
  const { inspection } = inspected;
  if (inspection.problems.length > 0) {
    throw new Error(`${inspection.filename} cannot be installed: ${inspection.problems.slice(0, 5).join("; ")}`);
  }
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

  const rows: RecordRow[] = [];
  const sources: string[] = [];
  for (const entry of files) {
    if (entry.name === `${distInfoName}/RECORD`) continue;
    const parts = entry.name.split("/");
    let target: string;
    let root: string;
    let data = read(archive, files, entry.name);
    let mode = zipExecutable(entry) ? 0o777 : 0o666;
    if (parts[0] === dataDir) {
      const scheme = parts[1] as keyof Destinations;
      root = dest[scheme];
      target = join(root, ...parts.slice(2));
      if (scheme === "scripts") {
        // setuptools' own wrappers for the entry points are skipped: the generated ones replace them.
        if (parts.length === 3 && scriptNames.has(wrapperName(parts[2] ?? ""))) continue;
        data = fixScriptShebang(data, python);
        mode = 0o777;
      }
    } else {
      root = libRoot;
      target = join(root, ...parts);
    }
    rows.push(recordRow(libRoot, target, await writer.write(target, data, root, mode)));
    if (target.endsWith(".py")) sources.push(target);
  }
  for (const section of ["console_scripts", "gui_scripts"] as const) {
    for (const [name, reference] of Object.entries(inspection.entryPoints[section])) {
      const target = join(dest.scripts, name);
      const written = await writer.write(target, Buffer.from(entryPointScript(python, reference)), dest.scripts, 0o777);
      rows.push(recordRow(libRoot, target, written));
    }
  }
  return { wheel, libRoot, distInfo: join(libRoot, distInfoName), rows, sources };
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

async function compile(python: string, sources: readonly string[]): Promise<Array<[string, string]>> {
  if (sources.length === 0) return [];
  const run = await execa(python, ["-I", "-c", COMPILE], {
    env: isolatedEnv(process.env),
    extendEnv: false,
    reject: false,
    input: JSON.stringify(sources),
  });
  if (run.failed) throw new Error(`byte-compiling with ${python} failed: ${lastLine(run.stderr) || run.shortMessage}`);
  const parsed = CompiledSchema.safeParse(JSON.parse(run.stdout));
  if (!parsed.success) throw new Error(`unexpected answer from ${python} while byte-compiling`);
  return parsed.data;
}

interface Writer {
  /** Writes data to a new inode renamed over path; refuses a destination that resolves outside root. */
  write(path: string, data: Buffer, root: string, mode: number): Promise<Buffer>;
  count(): number;
}

async function createWriter(hooks: DirectHooks): Promise<Writer> {
  const realRoots = new Map<string, string>();
  const checkedDirs = new Set<string>();
  let written = 0;
  return {
    count: () => written,
    async write(path, data, root, mode) {
      if (root === "") throw new Error(`${path}: no install path for this file`);
      if (!isInside(path, root) || path === root) throw new Error(`${path} would land outside ${root}; refusing`);
      const parent = dirname(path);
      if (!checkedDirs.has(parent)) {
        await mkdir(parent, { recursive: true });
        let realRoot = realRoots.get(root);
        if (realRoot === undefined) {
          realRoot = await realpath(root);
          realRoots.set(root, realRoot);
        }
        // A symlinked directory already in the venv must not carry a wheel's file out of it.
        if (!isInside(await realpath(parent), realRoot)) throw new Error(`${parent} leads outside ${root}; refusing`);
        checkedDirs.add(parent);
      }
      const tmp = join(parent, `.${basename(path)}.${randomBytes(6).toString("hex")}.pipgate-tmp`);
      try {
        await writeFile(tmp, data, { flag: "wx", mode });
        await rename(tmp, path);
      } catch (error) {
        await unlink(tmp).catch(() => undefined);
        throw error;
      }
      written += 1;
      await hooks.afterFile?.(written);
      return data;
    },
  };
}
