import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startIndexServer } from "../../test/fixtures/index-server.js";
import { gapNote, markdownTable, msText, ratioText, stageRows, verdict, formatLines, type FigureLine } from "../report.js";
import { summarizeStages, type StageTimes } from "../stages.js";
import { pairedRatios, summarize } from "../stats.js";
import { TARGETS } from "../targets.js";
import type { VenvFactory } from "../venvs.js";
import { loadCorpus } from "./build-corpus.js";
import type { CorpusSet } from "./corpus.js";
import { runCorpusRep, warmCorpusPipCache, type CorpusSample } from "./measure.js";

/** Issue 16's targets on real packages: cold no slower than bare pip, warm a fifth of pip's warm cache. */
export const P1_TARGET = TARGETS.p1Cold;
export const P2_TARGET = TARGETS.p2Warm;

/** What the corpus section measured, in the console's and RESULTS.md's forms. */
export interface CorpusSection {
  lines: FigureLine[];
  absolute: string[];
  breakdown: string[];
  notes: string[];
  errors: string[];
  /** RESULTS.md's corpus section, without its markers */
  markdown: string[];
}

const present = <T>(values: Array<T | undefined>): T[] => values.filter((value): value is T => value !== undefined);

/** Pure: one set's figures, absolute times, stage rows and notes for missed targets. */
export function setFigures(set: CorpusSet, samples: readonly CorpusSample[]): Omit<CorpusSection, "errors" | "markdown"> {
  const bareCold = samples.map((s) => s.bareColdMs);
  const bareWarm = samples.map((s) => s.bareWarmCacheMs);
  const tool = summarize(
    pairedRatios(
      samples.map((s) => s.toolColdMs),
      bareCold,
    ),
  );
  const cli = summarize(
    pairedRatios(
      samples.map((s) => s.cliColdMs),
      bareCold,
    ),
  );
  const warm = summarize(
    pairedRatios(
      samples.map((s) => s.warmMs),
      bareWarm,
    ),
  );
  const lines: FigureLine[] = [
    {
      name: `P1 ${set.name} cold, install_package / bare pip --no-cache-dir`,
      value: ratioText(tool),
      target: `≤ ${P1_TARGET.toFixed(1)}×`,
      pass: verdict(tool.median, P1_TARGET, "at-most"),
    },
    {
      name: `P1 ${set.name} cold, pipgate install / bare pip --no-cache-dir`,
      value: ratioText(cli),
      target: `≤ ${P1_TARGET.toFixed(1)}×`,
      pass: verdict(cli.median, P1_TARGET, "at-most"),
    },
    {
      name: `P2 ${set.name} warm, pipgate / bare pip warm cache`,
      value: ratioText(warm),
      target: `≤ ${P2_TARGET.toFixed(1)}×`,
      pass: verdict(warm.median, P2_TARGET, "at-most"),
    },
  ];
  const bareColdSummary = summarize(bareCold);
  const bareWarmSummary = summarize(bareWarm);
  const absolute = [
    `${set.name} (${set.requirement}, ${String(set.dists.length)} distributions): cold install_package ${msText(summarize(samples.map((s) => s.toolColdMs)))}, pipgate install ${msText(summarize(samples.map((s) => s.cliColdMs)))} (its pipeline ${msText(summarize(present(samples.map((s) => s.cliPipelineMs))))}), bare pip --no-cache-dir ${msText(bareColdSummary)}; warm pipgate ${msText(summarize(samples.map((s) => s.warmMs)))}, bare pip warm cache ${msText(bareWarmSummary)}; warm installs started ${String(samples.reduce((sum, s) => sum + s.warmContainers, 0))} container(s) in ${String(samples.length)} repetitions`,
  ];
  const coldStages = summarizeStages(present<StageTimes>(samples.map((s) => s.coldStages)));
  const warmStages = summarizeStages(present<StageTimes>(samples.map((s) => s.warmStages)));
  const breakdown = [
    ...stageRows(`${set.name} P1 cold, install_package's stages`, coldStages, bareColdSummary.median),
    ...stageRows(`${set.name} P2 warm, pipgate's stages`, warmStages, bareWarmSummary.median),
  ];
  const notes: string[] = [];
  if (lines[0]?.pass === false) notes.push(gapNote(`${set.name} P1 cold`, coldStages, bareColdSummary.median, P1_TARGET));
  if (lines[2]?.pass === false) notes.push(gapNote(`${set.name} P2 warm`, warmStages, bareWarmSummary.median, P2_TARGET));
  return { lines, absolute, breakdown, notes };
}

/**
 * P1/P2 on every set of `sets`: builds (or finds cached) the corpus, serves it from a local index of
 * its own, warms one pip cache per set, then `reps` repetitions per set.
 */
export async function runCorpusSection(
  sets: readonly CorpusSet[],
  reps: number,
  dir: string,
  venvs: VenvFactory,
  say: (line?: string) => void,
  /** the local index serves PEP 658 metadata files (as PyPI does) */
  metadata = true,
): Promise<CorpusSection> {
  const errors: string[] = [];
  mkdirSync(dir, { recursive: true });
  say(`\ncorpus: building or loading the wheels of ${sets.map((set) => set.name).join(", ")}`);
  const started = performance.now();
  const corpus = await loadCorpus(sets, { python: venvs.base, log: (line) => say(`  ${line}`) });
  if (!corpus.ok) {
    const error = `corpus: ${corpus.error}`;
    return { lines: [], absolute: [], breakdown: [], notes: [], errors: [error], markdown: ["## Real packages (bench corpus)", "", `- ${error}`, ""] };
  }
  say(
    `  ${corpus.value.built ? "built and verified" : "cached"}: ${String(corpus.value.wheels.length)} wheels (${(corpus.value.wheels.reduce((sum, w) => sum + w.bytes.length, 0) / 2 ** 20).toFixed(1)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s, ${corpus.value.dir}`,
  );
  const index = await startIndexServer({ projects: corpus.value.projects, metadata });
  const result: Omit<CorpusSection, "errors" | "markdown"> = { lines: [], absolute: [], breakdown: [], notes: [] };
  try {
    for (const set of sets) {
      say(`\nP1/P2 on ${set.requirement}: install_package, pipgate install and bare pip, pairs alternated`);
      const pipCache = join(dir, `pip-cache-${set.name}`);
      try {
        await warmCorpusPipCache(set, venvs, dir, index.url, pipCache);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
        say(`  FAILED ${errors[errors.length - 1] ?? ""}`);
        continue;
      }
      const samples: CorpusSample[] = [];
      for (let rep = 0; rep < reps; rep += 1) {
        const outcome = await runCorpusRep(set, rep, join(dir, `k-${set.name}-${String(rep)}`), venvs, index.url, pipCache);
        if (!outcome.ok) {
          errors.push(`${set.name} repetition ${String(rep + 1)}: ${outcome.error}`);
          say(`  rep ${String(rep + 1)}: FAILED ${outcome.error}`);
          continue;
        }
        const s = outcome.sample;
        samples.push(s);
        say(
          `  rep ${String(rep + 1)}: cold install_package ${s.toolColdMs.toFixed(0)} ms, pipgate install ${s.cliColdMs.toFixed(0)} ms / bare ${s.bareColdMs.toFixed(0)} ms; warm ${s.warmMs.toFixed(0)} ms / bare warm cache ${s.bareWarmCacheMs.toFixed(0)} ms`,
        );
      }
      if (samples.length === 0) continue;
      const figures = setFigures(set, samples);
      result.lines.push(...figures.lines);
      result.absolute.push(...figures.absolute);
      result.breakdown.push(...figures.breakdown);
      result.notes.push(...figures.notes);
    }
  } finally {
    await index.close();
  }
  const markdown = [
    "## Real packages (bench corpus)",
    "",
    `Wheels made from Debian's python3-* distributions by bench/corpus (built once into .cache/bench-corpus, verified by a --no-index pip install and an import), served by the test index${metadata ? " with PEP 658 metadata files" : " without PEP 658 metadata files"}; ${String(reps)} repetitions per set, every ratio a median of per-repetition ratios. install_package runs through a server in the bench's process; \`pipgate install\` is the built CLI, one process per install, with a state directory of its own. Warm: the same broker's second install of the set into a fresh venv.`,
    "",
    ...(result.lines.length > 0 ? markdownTable(result.lines) : ["(no figures: every set failed)"]),
    "",
    ...result.absolute.map((line) => `- ${line}`),
    "",
    "### Where pipgate's time goes (from the audit records)",
    "",
    "```",
    ...result.breakdown,
    "```",
    "",
    ...(result.notes.length > 0 ? ["### What holds the missed targets back", "", ...result.notes.map((note) => `- ${note}`), ""] : []),
    ...(errors.length > 0 ? ["### Errors", "", ...errors.map((error) => `- ${error}`), ""] : []),
  ];
  return { ...result, errors, markdown };
}

/** The section as the console prints it. */
export function consoleLines(section: CorpusSection): string[] {
  return [
    ...(section.lines.length > 0 ? formatLines(section.lines) : []),
    "",
    ...section.absolute,
    "",
    ...section.breakdown,
    ...(section.notes.length > 0 ? ["", "what holds the missed corpus targets back", ...section.notes] : []),
  ];
}
