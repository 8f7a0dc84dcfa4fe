// P6 of issue 16: the commit's cost must follow the change, not the environment. One small wheel,
// warm (verified, staged from disk, no sandbox), committed by the direct installer into an empty venv
// and into a venv of 40 k+ files, pairs alternated; the ratio of the two is the figure.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { commitWheels } from "../src/commit/index.js";
import { openStateDb } from "../src/state/db.js";
import { buildWheel } from "../test/fixtures/dists.js";
import { msText, ratioText, verdict, type FigureLine } from "./report.js";
import { pairedRatios, summarize } from "./stats.js";
import { ratioTarget, TARGETS } from "./targets.js";
import type { VenvFactory } from "./venvs.js";

/** The big venv: this many distributions of this many files each, every one listed in its RECORD. */
export const BIG_DISTS = 200;
export const FILES_PER_DIST = 205;

export interface EnvSizeResult {
  lines: FigureLine[];
  absolute: string[];
  errors: string[];
}

async function sitePackages(python: string): Promise<string> {
  const run = await execa(python, ["-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]);
  return run.stdout.trim();
}

/**
 * Fills site-packages with BIG_DISTS installed distributions (METADATA, RECORD, INSTALLER and their
 * modules), written directly: it is the number of files and distributions the commit must not scale
 * with, and making them with an installer would take minutes of nothing measured.
 */
async function fillVenv(python: string): Promise<number> {
  const site = await sitePackages(python);
  let files = 0;
  for (let d = 0; d < BIG_DISTS; d += 1) {
    const name = `bulk_${String(d)}`;
    const distInfo = join(site, `${name}-1.0.dist-info`);
    await mkdir(join(site, name), { recursive: true });
    await mkdir(distInfo, { recursive: true });
    const rows: string[] = [];
    for (let f = 0; f < FILES_PER_DIST; f += 1) {
      const rel = `${name}/m${String(f)}.py`;
      await writeFile(join(site, rel), `X = ${String(f)}\n`);
      rows.push(`${rel},,`);
    }
    await writeFile(join(distInfo, "METADATA"), `Metadata-Version: 2.1\nName: bulk-${String(d)}\nVersion: 1.0\n\n`);
    await writeFile(join(distInfo, "INSTALLER"), "pip\n");
    rows.push(`${name}-1.0.dist-info/METADATA,,`, `${name}-1.0.dist-info/INSTALLER,,`, `${name}-1.0.dist-info/RECORD,,`);
    await writeFile(join(distInfo, "RECORD"), `${rows.join("\n")}\n`);
    files += FILES_PER_DIST + 3;
  }
  return files;
}

async function countFiles(venv: string): Promise<number> {
  const run = await execa("find", [venv, "-type", "f"], { reject: false, maxBuffer: 256 * 2 ** 20 });
  return run.stdout.split("\n").filter((line) => line !== "").length;
}

/** Runs P6: `reps` pairs of commits of a fresh small wheel (a new name each time, so each installs). */
export async function runEnvSize(workDir: string, venvs: VenvFactory, reps: number, say: (line: string) => void): Promise<EnvSizeResult> {
  const errors: string[] = [];
  await mkdir(workDir, { recursive: true });
  const targets = { empty: join(workDir, "p6-empty"), big: join(workDir, "p6-big") };
  const python = { empty: await venvs.fresh(targets.empty), big: await venvs.fresh(targets.big) };
  await fillVenv(python.big);
  const counts = { empty: await countFiles(targets.empty), big: await countFiles(targets.big) };
  say(`  venvs: empty ${String(counts.empty)} files, big ${String(counts.big)} files (${String(BIG_DISTS)} extra distributions)`);
  const stateDir = join(workDir, "p6-state");
  const db = openStateDb(stateDir);
  const wheelsDir = join(workDir, "p6-wheels");
  await mkdir(wheelsDir, { recursive: true });
  const times: Record<"empty" | "big", number[]> = { empty: [], big: [] };
  try {
    // rep -1 warms the page cache and the interpreter's imports on both sides; it is not counted.
    for (let rep = -1; rep < reps; rep += 1) {
      const order = rep % 2 === 0 ? (["empty", "big"] as const) : (["big", "empty"] as const);
      for (const kind of order) {
        const name = `p6-small-${kind}-${String(rep + 1)}`;
        const files = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`${name.replaceAll("-", "_")}/m${String(i)}.py`, `X = ${String(i)}\n`]));
        const built = buildWheel({ name, version: "1.0", files, entryPoints: { [name]: `${name.replaceAll("-", "_")}:main` } });
        const path = join(wheelsDir, built.filename);
        await writeFile(path, built.bytes);
        const started = performance.now();
        const result = await commitWheels(db, {
          installer: "direct",
          environment: `p6-${kind}`,
          python: python[kind],
          wheels: [{ name, version: "1.0", path, sha256: built.sha256 }],
          requested: [name],
          auditId: `p6-${kind}-${String(rep + 1)}`,
          stateDir,
        });
        const ms = performance.now() - started;
        if (!result.ok) {
          errors.push(`P6 ${kind} repetition ${String(rep + 1)}: ${result.error}`);
          continue;
        }
        if (rep >= 0) times[kind].push(ms);
      }
      if (rep >= 0)
        say(
          `  rep ${String(rep + 1)}: empty venv ${(times.empty.at(-1) ?? Number.NaN).toFixed(0)} ms, big venv ${(times.big.at(-1) ?? Number.NaN).toFixed(0)} ms`,
        );
    }
  } finally {
    db.close();
  }
  const ratio = summarize(pairedRatios(times.big, times.empty));
  return {
    lines: [
      {
        name: `P6 one small wheel, warm commit: ${String(Math.round(counts.big / 1000))} k-file venv / empty venv`,
        value: ratioText(ratio),
        target: ratioTarget(TARGETS.p6EnvSize),
        pass: verdict(ratio.median, TARGETS.p6EnvSize, "at-most") && counts.big >= 40_000,
      },
    ],
    absolute: [
      `P6: commit into the empty venv (${String(counts.empty)} files) ${msText(summarize(times.empty))}, into the big venv (${String(counts.big)} files) ${msText(summarize(times.big))}; direct installer, undo journal of the touched paths, byte-compiled`,
    ],
    errors,
  };
}
