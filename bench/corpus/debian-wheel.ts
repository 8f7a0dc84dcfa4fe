import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { BuiltDist } from "../../test/fixtures/dists.js";
import { filenameName, filenameVersion, recordHash, sha256Hex } from "../../test/fixtures/names.js";
import { wheelMeta } from "../../test/fixtures/seed-dists.js";
import { writeZip, type ZipEntry } from "../../test/fixtures/zip.js";

/**
 * Turns a distribution Debian installed into a wheel pip accepts: its installed files (no bytecode),
 * its own core metadata with the requirements the corpus declares, and a fresh WHEEL and RECORD
 * (sha256, urlsafe base64, as PEP 376/427 want; Debian's own RECORDs carry hex digests). A
 * distribution with compiled extension modules gets the interpreter's CPython and platform tag, a
 * pure one py3-none-any.
 */

/** What importlib.metadata says about one installed distribution (read by DESCRIBE_PY). */
export interface InstalledDist {
  name: string;
  version: string;
  /** the METADATA or PKG-INFO text */
  metadata: string;
  /** Requires-Dist as importlib.metadata reads it (egg-info's requires.txt included); [] when none */
  requires: string[];
  entryPoints: string | null;
  /** the top-level files and directories it installed, relative to `root` */
  topLevel: string[];
  root: string;
}

/** The interpreter the wheels are tagged for. */
export interface InterpreterTags {
  /** e.g. "cp311" */
  python: string;
  /** e.g. "linux_x86_64" */
  platform: string;
  /** e.g. ".cpython-311-x86_64-linux-gnu.so" */
  extSuffix: string;
}

// Reads each named distribution through importlib.metadata; one short python3 run for all of them.
const DESCRIBE_PY = String.raw`
import importlib.metadata as md, json, os, sys, sysconfig
out = {"tags": {"python": "cp%d%d" % sys.version_info[:2], "platform": sysconfig.get_platform().replace("-", "_").replace(".", "_"), "extSuffix": sysconfig.get_config_var("EXT_SUFFIX")}, "dists": [], "missing": []}
for name in sys.argv[1:]:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        out["missing"].append(name)
        continue
    root = str(dist.locate_file(""))
    names = []
    top = dist.read_text("top_level.txt")
    if top is not None:
        names = [line.strip().split("/")[0] for line in top.splitlines() if line.strip()]
    elif dist.files is not None:
        for f in dist.files:
            first = f.parts[0]
            if first not in ("..", "__pycache__") and not first.endswith((".dist-info", ".egg-info")):
                names.append(first[:-3] if first.endswith(".py") else first)
    found = []
    suffixes = ["", ".py", sysconfig.get_config_var("EXT_SUFFIX"), ".abi3.so"]
    for n in sorted(set(names)):
        hits = [n + s for s in suffixes if os.path.lexists(os.path.join(root, n + s))]
        if not hits:
            out["missing"].append("%s: %s" % (name, n))
        found.extend(hits)
    meta = dist.read_text("METADATA")
    if meta is None:
        meta = dist.read_text("PKG-INFO")
    out["dists"].append({"name": dist.metadata["Name"], "version": dist.version, "metadata": meta or "", "requires": dist.requires or [], "entryPoints": dist.read_text("entry_points.txt"), "topLevel": found, "root": root})
json.dump(out, sys.stdout)
`;

/** Reads the named installed distributions through `python` (Debian's python3: its dist-packages). */
export async function describeInstalled(
  python: string,
  names: readonly string[],
): Promise<{ ok: true; value: { tags: InterpreterTags; dists: InstalledDist[] } } | { ok: false; error: string }> {
  const result = await execa(python, ["-I", "-c", DESCRIBE_PY, ...names], { reject: false, timeout: 60_000, maxBuffer: 64 * 2 ** 20 });
  if (result.exitCode !== 0)
    return { ok: false, error: `${python} could not read the installed distributions: ${result.stderr.trim().split("\n").slice(-2).join(" / ")}` };
  const parsed = JSON.parse(result.stdout) as { tags: InterpreterTags; dists: InstalledDist[]; missing: string[] };
  if (parsed.missing.length > 0) return { ok: false, error: `not installed (run scripts/setup-host.sh): ${parsed.missing.join(", ")}` };
  return { ok: true, value: { tags: parsed.tags, dists: parsed.dists } };
}

/** Pure: the tag of a wheel holding these paths: the interpreter's, if any is a compiled module. */
export function wheelTag(paths: readonly string[], tags: InterpreterTags): string {
  const compiled = paths.some((path) => path.endsWith(".so"));
  return compiled ? `${tags.python}-${tags.python}-${tags.platform}` : "py3-none-any";
}

/**
 * Pure: core metadata with `requires` as its Requires-Dist: Debian's Requires-Dist lines go, the rest of
 * the header and the description stay, and Metadata-Version is at least 2.1 (Requires-Dist needs 1.2+).
 */
export function corpusMetadata(original: string, requires: readonly string[]): string {
  const text = original.replace(/\r\n/g, "\n");
  const split = text.indexOf("\n\n");
  const header = split === -1 ? text.replace(/\n+$/, "") : text.slice(0, split);
  const body = split === -1 ? "" : text.slice(split + 2);
  const lines = header.split("\n").filter((line) => !/^requires-dist:/i.test(line));
  const version = lines.findIndex((line) => /^metadata-version:/i.test(line));
  const declared = version === -1 ? undefined : (lines[version] ?? "").slice("Metadata-Version:".length).trim();
  const fields = ["Metadata-Version: 2.1", ...lines.filter((_, index) => index !== version)];
  if (declared !== undefined && Number(declared) >= 2.1) fields[0] = `Metadata-Version: ${declared}`;
  const out = [...fields, ...requires.map((requirement) => `Requires-Dist: ${requirement}`)].join("\n");
  return body === "" ? `${out}\n\n` : `${out}\n\n${body}`;
}

/** Pure: the requirements a corpus wheel publishes: the corpus's runtime ones, Debian's extra-only ones. */
export function publishedRequires(debian: readonly string[], declared: readonly string[] | undefined): string[] {
  if (declared === undefined) return [...debian];
  return [...declared, ...debian.filter((requirement) => /\bextra\s*==/.test(requirement))];
}

/** At most this many files and bytes per wheel: the corpus is read from the host's dist-packages, still bounded. */
const MAX_FILES = 20_000;
const MAX_BYTES = 1024 * 2 ** 20;

function collect(root: string, rel: string, out: ZipEntry[], budget: { bytes: number }): void {
  const path = join(root, rel);
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) throw new Error(`${path} is a symbolic link; corpus wheels hold regular files only`);
  if (stat.isDirectory()) {
    for (const name of readdirSync(path).sort()) if (name !== "__pycache__") collect(root, `${rel}/${name}`, out, budget);
    return;
  }
  if (!stat.isFile() || rel.endsWith(".pyc")) return;
  budget.bytes += stat.size;
  if (out.length >= MAX_FILES || budget.bytes > MAX_BYTES)
    throw new Error(`${rel}: more than ${String(MAX_FILES)} files or ${String(MAX_BYTES / 2 ** 20)} MB in one distribution`);
  out.push({ name: rel, data: readFileSync(path), mode: stat.mode & 0o755 });
}

/** A wheel of one installed distribution, publishing `requires` (see publishedRequires). */
export function debianWheel(dist: InstalledDist, tags: InterpreterTags, requires: readonly string[]): BuiltDist {
  const files: ZipEntry[] = [];
  const budget = { bytes: 0 };
  for (const top of dist.topLevel) collect(dist.root, top, files, budget);
  const tag = wheelTag(
    files.map((file) => file.name),
    tags,
  );
  const base = `${filenameName(dist.name)}-${filenameVersion(dist.version)}`;
  const distInfo = `${base}.dist-info`;
  const pure = tag === "py3-none-any";
  files.push({ name: `${distInfo}/METADATA`, data: Buffer.from(corpusMetadata(dist.metadata, requires)) });
  files.push({
    name: `${distInfo}/WHEEL`,
    data: Buffer.from(`Wheel-Version: 1.0\nGenerator: pipgate-bench-corpus\nRoot-Is-Purelib: ${String(pure)}\nTag: ${tag}\n\n`),
  });
  if (dist.entryPoints !== null) files.push({ name: `${distInfo}/entry_points.txt`, data: Buffer.from(dist.entryPoints) });
  const record = files.map((file) => `${file.name},${recordHash(file.data)},${String(file.data.length)}`);
  record.push(`${distInfo}/RECORD,,`);
  files.push({ name: `${distInfo}/RECORD`, data: Buffer.from(`${record.join("\n")}\n`) });
  const bytes = writeZip(files);
  return { filename: `${base}-${tag}.whl`, bytes, sha256: sha256Hex(bytes), kind: "wheel", meta: wheelMeta(bytes) };
}
