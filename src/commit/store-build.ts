import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { chmod, lstat, mkdir, open, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { errorMessage, type Result } from "../errors.js";
import { createOwnedDir } from "../state/leftovers.js";
import { inspectWheel } from "../verify/wheel.js";
import { openZip, type ZipEntry } from "../verify/zip-reader.js";
import { compiledPairs } from "./compile-answer.js";
import { isolatedEnv } from "./pip-command.js";
import { STORE_FORMAT, StoreManifestSchema, treePath, type Scheme, type StoredFile, type StoreInterpreter, type StoreManifest } from "./store-manifest.js";

/*
 * Making one store entry: the wheel unpacked by scheme and byte-compiled by the target interpreter, in a
 * private directory named for this process (so start-up removes one a dead process left), every file and
 * directory fsynced, the manifest written last, then renamed into place in one step. A reader finds a
 * whole entry or none. Files are made read-only: the store is never written into once made.
 */

/** Prefix of entries being made under store/tmp. */
export const MAKING_PREFIX = "make";

/** The manifest's name inside an entry. */
export const MANIFEST = "manifest.json";

/** The entry's size in a file of its own, so eviction reads a number, not every manifest. */
export const BYTES = "bytes";

/** A wheel to make an entry of: the staged copy, whose sha256 was just checked. */
export interface StoreWheel {
  file: string;
  sha256: string;
}

// Each source compiled as compileall does for pip (forced, errors skipped), named relative to its scheme
// root and timestamp-checked whatever SOURCE_DATE_EPOCH says: the entry must not depend on the caller's env.
const COMPILE = `
import sys, json, io, contextlib, warnings, py_compile, importlib.util
pairs = json.load(sys.stdin)
done = []
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
    warnings.filterwarnings("ignore")
    for path, shown in pairs:
        try:
            out = py_compile.compile(path, dfile=shown, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        except Exception:
            continue
        if out:
            done.append([path, out])
print(json.dumps(done))
`;
import { inBatches } from "./batches.js";

const SCHEMES = new Set<string>(["purelib", "platlib", "data", "headers", "scripts"]);
const FSYNCS_IN_FLIGHT = 32;
/** Sources per compiling process: below this a second interpreter start costs more than it saves. */
const COMPILE_CHUNK = 200;

/**
 * Makes the entry for one wheel under storeDir/entries/<key>, or finds that another process made it
 * first (`made: false`). Refuses a wheel inspection finds a problem in, or a path that would leave its
 * scheme; an error leaves nothing behind.
 */
export async function makeEntry(
  storeDir: string,
  key: string,
  wheel: StoreWheel,
  python: string,
  interpreter: StoreInterpreter,
): Promise<Result<{ made: boolean }>> {
  const dir = await createOwnedDir(join(storeDir, "tmp"), MAKING_PREFIX);
  try {
    const manifest = await unpack(dir, key, wheel, python, interpreter);
    await writeDurably(join(dir, MANIFEST), JSON.stringify(manifest));
    await writeDurably(join(dir, BYTES), String(manifest.bytes));
    await fsyncTree(dir);
    await mkdir(join(storeDir, "entries"), { recursive: true });
    try {
      await rename(dir, join(storeDir, "entries", key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EEXIST" && code !== "ENOTEMPTY") throw error;
      await rm(dir, { recursive: true, force: true });
      return { ok: true, value: { made: false } };
    }
    await fsyncPath(join(storeDir, "entries"));
    return { ok: true, value: { made: true } };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { ok: false, error: `${basename(wheel.file)}: ${errorMessage(error)}` };
  }
}

async function unpack(dir: string, key: string, wheel: StoreWheel, python: string, interpreter: StoreInterpreter): Promise<StoreManifest> {
  const inspected = inspectWheel(wheel.file, { allowPth: true });
  if (!inspected.ok) throw new Error(inspected.error);
  const { inspection } = inspected;
  if (inspection.problems.length > 0) throw new Error(`cannot be installed: ${inspection.problems.slice(0, 5).join("; ")}`);
  const bytes = await readFile(wheel.file);
  if (createHash("sha256").update(bytes).digest("hex") !== wheel.sha256) throw new Error("changed since it was hashed; refusing");
  const opened = openZip(bytes);
  if (!opened.ok) throw new Error(opened.error);
  const archive = opened.value;
  const entries = archive.entries.filter((e) => !e.name.endsWith("/"));
  const distInfo = entries.map((e) => e.name.split("/")).find((p) => p.length === 2 && p[1] === "WHEEL" && p[0]?.endsWith(".dist-info"))?.[0];
  if (distInfo === undefined) throw new Error("has no .dist-info/WHEEL");
  const dataDir = `${distInfo.slice(0, -".dist-info".length)}.data`;
  const read = (entry: ZipEntry): Buffer => {
    const data = archive.read(entry);
    if (!data.ok) throw new Error(data.error);
    return data.value;
  };
  const wheelFile = entries.find((e) => e.name === `${distInfo}/WHEEL`);
  const purelib = wheelFile !== undefined && /^Root-Is-Purelib:[ \t]*true[ \t]*$/im.test(read(wheelFile).toString("utf8"));

  const tree = join(dir, "tree");
  const files: Array<Omit<StoredFile, "ino" | "ctimeNs" | "mtimeNs">> = [];
  const sources: Array<[string, string]> = [];
  const made = new Set<string>();
  for (const entry of entries) {
    if (entry.name === `${distInfo}/RECORD`) continue;
    const parts = entry.name.split("/");
    let scheme: Scheme = "lib";
    let rel = parts;
    if (parts[0] === dataDir) {
      const named = parts[1] ?? "";
      if (!SCHEMES.has(named) || parts.length < 3) throw new Error(`${entry.name}: not a file under a known .data scheme`);
      scheme = named as Scheme;
      rel = parts.slice(2);
    }
    if (rel.some((part) => part === "" || part === "." || part === ".." || part.includes("\0") || part.includes("\\"))) {
      throw new Error(`${entry.name}: a path with an empty, '.' or '..' part`);
    }
    const path = rel.join("/");
    if (made.has(treePath({ scheme, path }))) throw new Error(`${entry.name} is in the wheel twice`);
    made.add(treePath({ scheme, path }));
    const data = read(entry);
    const target = join(tree, scheme, ...rel);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, data, { flag: "wx", mode: 0o600 });
    const mode = scheme === "scripts" || zipExecutable(entry) ? 0o755 : 0o644;
    files.push({ scheme, path, size: data.length, sha256: createHash("sha256").update(data).digest("hex"), mode, pyc: false });
    // Scripts are rewritten per install (their shebang names the venv's interpreter), so they compile there.
    if (scheme !== "scripts" && path.endsWith(".py")) sources.push([target, path]);
  }
  for (const [source, pyc] of await compile(python, sources)) {
    const rel = source.slice(tree.length + 1).split("/");
    const expected = join(dirname(source), "__pycache__", `${basename(source).slice(0, -".py".length)}.${interpreter.cacheTag}.pyc`);
    if (pyc !== expected) throw new Error(`byte-compiling ${rel.slice(1).join("/")} wrote ${pyc}, not ${expected}`);
    const data = await readFile(pyc);
    const path = [...rel.slice(1, -1), "__pycache__", basename(pyc)].join("/");
    files.push({ scheme: rel[0] as Scheme, path, size: data.length, sha256: createHash("sha256").update(data).digest("hex"), mode: 0o644, pyc: true });
  }
  // Side by side: concurrent fsyncs share the file system's journal commits.
  const stored: StoredFile[] = await inBatches(files, FSYNCS_IN_FLIGHT, async (file) => {
    const path = join(tree, file.scheme, ...file.path.split("/"));
    await chmod(path, file.mode & 0o555);
    await fsyncPath(path);
    const st = await lstat(path, { bigint: true });
    return { ...file, ino: String(st.ino), ctimeNs: String(st.ctimeNs), mtimeNs: String(st.mtimeNs) };
  });
  return StoreManifestSchema.parse({
    format: STORE_FORMAT,
    key,
    wheel: { filename: basename(wheel.file), sha256: wheel.sha256 },
    interpreter,
    distInfo,
    purelib,
    entryPoints: inspection.entryPoints,
    files: stored,
    bytes: stored.reduce((sum, f) => sum + f.size, 0),
  });
}

function zipExecutable(entry: ZipEntry): boolean {
  const mode = entry.externalAttrs >>> 16;
  return (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0;
}

/** Compiles in up to one process per core: each .pyc is the same whichever process wrote it. */
async function compile(python: string, sources: ReadonlyArray<[string, string]>): Promise<Array<[string, string]>> {
  if (sources.length === 0) return [];
  const workers = Math.max(1, Math.min(availableParallelism(), Math.ceil(sources.length / COMPILE_CHUNK)));
  const chunks = Array.from({ length: workers }, (_, i) => sources.filter((_, j) => j % workers === i));
  const results = await Promise.all(
    chunks.map(async (chunk) => {
      const { execa } = await import("execa"); // on first use: start-up (pipgate install) does not load it
      const run = await execa(python, ["-I", "-c", COMPILE], { env: isolatedEnv(process.env), extendEnv: false, reject: false, input: JSON.stringify(chunk) });
      return compiledPairs(python, run);
    }),
  );
  return results.flat();
}

async function writeDurably(path: string, text: string): Promise<void> {
  await writeFile(path, text, { flag: "wx", mode: 0o400 });
  await fsyncPath(path);
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Every directory of the entry, so the names of its files are as durable as their bytes. */
async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await fsyncTree(join(dir, entry.name));
  }
  await fsyncPath(dir);
}
