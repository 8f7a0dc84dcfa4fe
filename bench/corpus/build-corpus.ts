import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { packageRoot } from "../../src/paths.js";
import type { BuiltDist } from "../../test/fixtures/dists.js";
import type { ProjectSpec } from "../../test/fixtures/index-server.js";
import { projectsFromDists } from "../../test/fixtures/index-server.js";
import { normalizeName, sha256Hex } from "../../test/fixtures/names.js";
import { execa } from "execa";
import { isolatedPipEnv, PIP_ISOLATION_FLAGS, runPython } from "../../test/fixtures/pip.js";
import { wheelMeta } from "../../test/fixtures/seed-dists.js";
import { corpusDists, type CorpusSet } from "./corpus.js";
import { debianWheel, describeInstalled, publishedRequires } from "./debian-wheel.js";

/**
 * The corpus as wheels, built on demand into a cache directory (never committed) and reused while
 * the installed Debian packages and the corpus definition stay the same. A fresh build is verified
 * before it is cached: each set is pip-installed into a fresh venv from the wheels alone
 * (`--no-index`, pip isolated from the host's configuration) and its modules imported.
 */

/** Bump when the wheels this builder writes change for the same input. */
const BUILDER_VERSION = 1;

export const DEFAULT_CORPUS_CACHE = join(packageRoot(), ".cache", "bench-corpus");

const ManifestSchema = z.strictObject({
  key: z.string(),
  wheels: z.array(z.string().regex(/^[A-Za-z0-9_.+-]+\.whl$/)).max(1000),
});

export interface Corpus {
  /** the wheels, each once */
  wheels: BuiltDist[];
  /** the wheels as index projects (one release each) */
  projects: ProjectSpec[];
  /** where the wheels are on disk */
  dir: string;
  /** whether this call built (and verified) them, or found them cached */
  built: boolean;
}

/** Pure: an allowlist allowing exactly the distributions of a set (its whole dependency tree). */
export function corpusAllowlist(set: CorpusSet): Record<string, unknown> {
  return { packages: Object.fromEntries(set.dists.map((dist) => [normalizeName(dist.name), "*"])) };
}

function loadWheel(path: string, filename: string): BuiltDist {
  const bytes = readFileSync(join(path, filename));
  return { filename, bytes, sha256: sha256Hex(bytes), kind: "wheel", meta: wheelMeta(bytes) };
}

/** Installs each set from the wheels alone into a fresh venv and imports its modules. */
async function verifySets(sets: readonly CorpusSet[], wheelDir: string, workDir: string, base: string): Promise<{ ok: true } | { ok: false; error: string }> {
  for (const set of sets) {
    // The interpreter the wheels were made from: its pip (`--python`) installs into a venv without one.
    const venv = join(workDir, `verify-${set.name}`);
    await execa(base, ["-m", "venv", "--without-pip", venv], { env: isolatedPipEnv(), extendEnv: false, timeout: 120_000 });
    const python = join(venv, "bin", "python");
    const pip = await execa(
      base,
      ["-m", "pip", "--python", python, "install", ...PIP_ISOLATION_FLAGS, "--no-index", "--find-links", wheelDir, "--no-compile", set.requirement],
      {
        env: isolatedPipEnv(),
        extendEnv: false,
        reject: false,
        stdin: "ignore",
        timeout: 600_000,
      },
    );
    if (pip.exitCode !== 0)
      return { ok: false, error: `${set.name}: pip install --no-index ${set.requirement} failed: ${pip.stderr.trim().split("\n").slice(-3).join(" / ")}` };
    const expected = set.dists.map((dist) => normalizeName(dist.name)).sort();
    const probe = await runPython(
      python,
      `import importlib, importlib.metadata as md, json, re\n${set.imports.map((module) => `importlib.import_module(${JSON.stringify(module)})`).join("\n")}\nprint(json.dumps(sorted(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in md.distributions())))`,
    );
    if (probe.exitCode !== 0)
      return { ok: false, error: `${set.name}: importing ${set.imports.join(", ")} failed: ${probe.stderr.trim().split("\n").slice(-2).join(" / ")}` };
    const installed = JSON.parse(probe.stdout) as string[];
    const missing = expected.filter((name) => !installed.includes(name));
    if (missing.length > 0) return { ok: false, error: `${set.name}: pip did not install ${missing.join(", ")} (the published requirements miss them)` };
  }
  return { ok: true };
}

/**
 * The wheels of `sets`, from `cacheDir` when it holds this exact corpus, otherwise built from the
 * Debian distributions `python` sees, verified, and cached.
 */
export async function loadCorpus(
  sets: readonly CorpusSet[],
  options: { cacheDir?: string; python?: string; log?: (line: string) => void } = {},
): Promise<{ ok: true; value: Corpus } | { ok: false; error: string }> {
  const cacheDir = options.cacheDir ?? DEFAULT_CORPUS_CACHE;
  const python = options.python ?? "/usr/bin/python3";
  const dists = corpusDists(sets);
  const described = await describeInstalled(
    python,
    dists.map((dist) => dist.name),
  );
  if (!described.ok) return described;
  const { tags } = described.value;
  // The key: the builder, the interpreter, every distribution's version, metadata and declared requirements.
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        BUILDER_VERSION,
        tags,
        dists: described.value.dists.map((d) => [d.name, d.version, sha256Hex(d.metadata), d.topLevel]),
        declared: dists,
      }),
    )
    .digest("hex");
  const setDir = join(cacheDir, key.slice(0, 16));
  const manifestPath = join(setDir, "manifest.json");
  if (existsSync(manifestPath)) {
    const manifest = ManifestSchema.safeParse(JSON.parse(readFileSync(manifestPath, "utf8")));
    if (manifest.success && manifest.data.key === key && manifest.data.wheels.every((filename) => existsSync(join(setDir, filename)))) {
      const wheels = manifest.data.wheels.map((filename) => loadWheel(setDir, filename));
      return { ok: true, value: { wheels, projects: projectsFromDists(wheels), dir: setDir, built: false } };
    }
  }

  mkdirSync(cacheDir, { recursive: true });
  const staging = mkdtempSync(join(cacheDir, "building-"));
  try {
    const wheelDir = join(staging, "wheels");
    mkdirSync(wheelDir);
    const wheels: BuiltDist[] = [];
    for (const dist of dists) {
      const installed = described.value.dists.find((candidate) => normalizeName(candidate.name) === normalizeName(dist.name));
      if (installed === undefined) return { ok: false, error: `${dist.name}: not described` };
      let wheel: BuiltDist;
      try {
        wheel = debianWheel(installed, tags, publishedRequires(installed.requires, dist.requires));
      } catch (error) {
        return { ok: false, error: `${dist.name}: ${error instanceof Error ? error.message : String(error)}` };
      }
      writeFileSync(join(wheelDir, wheel.filename), wheel.bytes);
      options.log?.(`built ${wheel.filename} (${(wheel.bytes.length / 2 ** 20).toFixed(1)} MB)`);
      wheels.push(wheel);
    }
    const verified = await verifySets(sets, wheelDir, staging, python);
    if (!verified.ok) return verified;
    options.log?.(`verified: ${sets.map((set) => set.name).join(", ")} install from the wheels alone and import`);
    writeFileSync(join(wheelDir, "manifest.json"), JSON.stringify({ key, wheels: wheels.map((wheel) => wheel.filename) }));
    rmSync(setDir, { recursive: true, force: true });
    renameSync(wheelDir, setDir);
    return { ok: true, value: { wheels, projects: projectsFromDists(wheels), dir: setDir, built: true } };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
