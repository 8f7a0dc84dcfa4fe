import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { execa } from "execa";
import { buildWheel, type WheelSpec } from "../fixtures/dists.js";
import { readZip, writeZip } from "../fixtures/zip.js";
import type { VerifiedWheel } from "../../src/commit/request.js";

/** A scratch directory per test file; removed by the caller's afterAll. */
export async function scratch(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pipgate-${prefix}-`));
}

/**
 * A real venv made once with `python3 -m venv` (seconds: ensurepip), then cloned per test with
 * `cp -a`: a venv finds its prefix from where its interpreter sits, so a clone is a working venv.
 */
export async function makeTemplateVenv(dir: string): Promise<string> {
  const template = join(dir, "template-venv");
  await execa("python3", ["-m", "venv", template], { env: { ...process.env, PIP_CONFIG_FILE: "/dev/null" } });
  return template;
}

export async function cloneVenv(template: string, dest: string): Promise<string> {
  await execa("cp", ["-a", template, dest]);
  return join(dest, "bin", "python");
}

/** site-packages and bin of a venv made by makeTemplateVenv (python 3.X layout). */
export async function venvRoots(venv: string): Promise<string[]> {
  const lib = join(venv, "lib");
  const [pythonDir] = (await readdir(lib)).filter((d) => d.startsWith("python3"));
  if (pythonDir === undefined) throw new Error(`no python3.X under ${lib}`);
  return [join(lib, pythonDir, "site-packages"), join(venv, "bin")];
}

/**
 * A digest of everything under the roots: sorted relative paths, entry type, permission bits, file
 * contents, symlink targets and file mtimes. __pycache__ is included: a rolled-back venv must be
 * identical, byte-compiled files too.
 */
export async function hashTree(roots: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const root of roots) {
    hash.update(`root ${root}\n`);
    for (const path of await walk(root)) {
      const st = await lstat(path);
      const rel = relative(root, path);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) hash.update(`L ${rel} ${await readlink(path)}\n`);
      else if (st.isDirectory()) hash.update(`D ${rel} ${mode}\n`);
      else {
        const content = createHash("sha256")
          .update(await readFile(path))
          .digest("hex");
        hash.update(`F ${rel} ${mode} ${st.mtimeMs} ${content}\n`);
      }
    }
  }
  return hash.digest("hex");
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...(await walk(path)));
  }
  return out;
}

/** Writes a fixture wheel to dir and describes it as verification would: the commit's input. */
export async function verifiedWheel(dir: string, spec: WheelSpec): Promise<VerifiedWheel> {
  const built = buildWheel(spec);
  await mkdir(dir, { recursive: true });
  const path = join(dir, built.filename);
  await writeFile(path, built.bytes);
  return { name: spec.name, version: spec.version, path, sha256: built.sha256 };
}

/**
 * A wheel pip accepts until the very end: its RECORD has a blank line, which pip 23 trips over after
 * it has uninstalled the old version and written the new files (IndexError in its RECORD rewrite).
 */
export async function brokenRecordWheel(dir: string, spec: WheelSpec): Promise<VerifiedWheel> {
  const built = buildWheel(spec);
  const entries = [...readZip(built.bytes)].map(([name, data]) => {
    if (!name.endsWith(".dist-info/RECORD")) return { name, data };
    const lines = data.toString("utf8").split("\n");
    return { name, data: Buffer.from([lines[0], "", ...lines.slice(1)].join("\n")) };
  });
  const bytes = writeZip(entries);
  await mkdir(dir, { recursive: true });
  const path = join(dir, built.filename);
  await writeFile(path, bytes);
  return { name: spec.name, version: spec.version, path, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Runs code in the venv's interpreter, isolated from the test runner's environment. */
export async function runPython(python: string, code: string): Promise<string> {
  const run = await execa(python, ["-I", "-c", code]);
  return run.stdout.trim();
}

export async function removeAll(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
