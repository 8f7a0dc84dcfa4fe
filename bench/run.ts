// `make bench`: pipgate against a bare `pip install` from the same local index, side by side in one
// run (P1–P5 of issue 8). Every figure is printed with its target; bench/RESULTS.md gets the same.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { packageRoot } from "../src/paths.js";
import { startIndexServer } from "../test/fixtures/index-server.js";
import { requireDocker } from "../test/support/harness.js";
import { runAgents, type AgentRun } from "./agents.js";
import { runFleetAgents } from "./fleet.js";
import { benchProjects } from "./catalogue.js";
import { runColdWarm, warmPipCache, type ColdWarmSample } from "./cold-warm.js";
import { formatMachine, machineInfo } from "./machine.js";
import { REFUSALS, runRefusals, startRefusalServer, type RefusalKind, type RefusalSample } from "./refusals.js";
import { formatLines, gapNote, markdownTable, mbText, msText, ratioText, stageRows, verdict, type FigureLine } from "./report.js";
import { replaceSection, sectionOf } from "./results-section.js";
import { runEnvSize } from "./env-size.js";
import { ratioTarget, TARGETS } from "./targets.js";

import { selectCorpus } from "./corpus/corpus.js";
import { consoleLines, runCorpusSection, type CorpusSection } from "./corpus/section.js";
import { measureStartup, startupLines, type StartupFigures } from "./startup.js";

/**
 * The sections a full run keeps in RESULTS.md: those stand-alone benches write, and the corpus's
 * analysis, written by hand from a corpus run's profile (the corpus section itself is the bench's).
 */
const STANDALONE_SECTIONS = [
  "idle-notes",
  "corpus-notes",
  "coldpath-notes",
  "fast-notes",
  "startup",
  "sessions",
  "hostile-runc",
  "hostile-runsc",
  "env-size",
  "agents",
] as const;
import { summarizeStages, type StageTimes } from "./stages.js";
import { pairedRatios, percentile, summarize } from "./stats.js";
import { baseInterpreter, createVenvFactory, type VenvFactory } from "./venvs.js";

/** The bench's sections, selectable with BENCH_SECTIONS. */
const BENCH_SECTION_NAMES = ["fixture", "corpus"] as const;

/** The corpus section as it goes into RESULTS.md, between its markers. */
const CORPUS_SECTION = "corpus";

/** The run's knobs, from the environment, checked: a typo must not silently run a different bench. */
export const BenchEnvSchema = z.object({
  BENCH_REPS: z.coerce.number().int().min(1).max(50).default(5).describe("repetitions of P1–P3"),
  BENCH_P4_REPS: z.coerce
    .number()
    .int()
    .min(1)
    .max(20)
    .optional()
    .describe("repetitions of P4/P5; default ceil(BENCH_REPS / 3): each one starts 16 serve processes and 16 containers"),
  BENCH_REFUSALS: z.coerce.number().int().min(1).max(10_000).default(100).describe("refusals of each kind per P3 repetition"),
  BENCH_CHECKS: z.coerce.number().int().min(1).max(100_000).default(1000).describe("check_package calls per P3 repetition"),
  BENCH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16).describe("check_package calls in flight"),
  BENCH_KEEP: z.enum(["0", "1"]).default("0").describe("1 keeps the work directory for inspection"),
  BENCH_ONLY: z
    .enum(["all", "p6", "agents"])
    .default("all")
    .describe("p6 runs only P6 (no Docker); agents only P3 and P4 (SQLite and the PostgreSQL fleet); each writes its own section of RESULTS.md"),
  BENCH_P6_REPS: z.coerce.number().int().min(1).max(50).default(7).describe("pairs of P6 commits (empty venv, big venv)"),
  BENCH_SECTIONS: z
    .string()
    .default("fixture,corpus")
    .refine((value) => value.split(",").every((name) => (BENCH_SECTION_NAMES as readonly string[]).includes(name.trim())), {
      message: "comma-separated list of: fixture, corpus",
    })
    .describe("what to run: fixture (P1–P5 on the fixture catalogue), corpus (P1/P2 per real package); a corpus-only run replaces only its RESULTS.md section"),
  BENCH_METADATA: z
    .enum(["0", "1"])
    .default("1")
    .describe("1: the local index serves PEP 658 metadata files, as PyPI does; 0: it does not (pip downloads whole wheels to resolve)"),
  BENCH_CORPUS: z.string().optional().describe("comma-separated corpus sets (bench/corpus/corpus.ts); default all"),
  BENCH_POOL: z.coerce
    .number()
    .int()
    .min(0)
    .max(8)
    .default(1)
    .describe("sandbox.pool.size of the bench's brokers (bench/workspace.ts); 0 measures without the warm pool"),
  BENCH_STORE_COLD: z.enum(["background", "inline"]).default("background").describe("commit.store_cold of the bench's brokers"),
  BENCH_LINK: z.enum(["copy", "hardlink"]).optional().describe("commit.link of the bench's brokers; default the configuration's (copy)"),
});

const say = (line = "") => process.stdout.write(`${line}\n`);
const present = <T>(values: Array<T | undefined>): T[] => values.filter((value): value is T => value !== undefined);

async function main(): Promise<number> {
  const parsed = BenchEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) process.stderr.write(`${issue.path.join(".")}: ${issue.message}\n`);
    return 2;
  }
  const options = parsed.data;
  if (options.BENCH_ONLY === "p6") return runP6Only(options.BENCH_P6_REPS, options.BENCH_KEEP === "1");
  if (options.BENCH_ONLY === "agents") return runAgentsOnly(options);
  const sections = new Set(options.BENCH_SECTIONS.split(",").map((name) => name.trim()));
  const corpusSets = selectCorpus(options.BENCH_CORPUS);
  if (!corpusSets.ok) {
    process.stderr.write(`BENCH_CORPUS: ${corpusSets.error}\n`);
    return 2;
  }
  const p4Reps = options.BENCH_P4_REPS ?? Math.ceil(options.BENCH_REPS / 3);
  const startedAt = new Date();

  const machine = await machineInfo(baseInterpreter());
  say("pipgate bench — pipgate against a bare pip install from the same local index");
  for (const line of formatMachine(machine)) say(`  ${line}`);
  say(`  repetitions: P1–P3 ${String(options.BENCH_REPS)}, P4/P5 ${String(p4Reps)}; sections: ${[...sections].join(", ")}`);
  await requireDocker();
  const metadata = options.BENCH_METADATA === "1";
  if (!sections.has("fixture")) return corpusOnly(corpusSets.value, options.BENCH_REPS, options.BENCH_KEEP === "1", metadata);

  const dir = mkdtempSync(join(tmpdir(), "pipgate-bench-"));
  const index = await startIndexServer({ projects: benchProjects(), metadata });
  const errors: string[] = [];
  try {
    say(`\nsetting up: a pristine venv to copy, a warm pip cache (index ${index.url})`);
    const venvs = await createVenvFactory(dir);
    const pipCache = join(dir, "pip-cache");
    await warmPipCache(venvs, dir, index.url, pipCache);

    say("\nP1/P2: cold and warm installs, pipgate and bare pip interleaved");
    const coldWarm: ColdWarmSample[] = [];
    for (let rep = 0; rep < options.BENCH_REPS; rep += 1) {
      const result = await runColdWarm(rep, join(dir, `c${String(rep)}`), venvs, index.url, pipCache);
      if (!result.ok) {
        errors.push(`P1/P2 repetition ${String(rep + 1)}: ${result.error}`);
        say(`  rep ${String(rep + 1)}: FAILED ${result.error}`);
        continue;
      }
      coldWarm.push(result.sample);
      const s = result.sample;
      say(
        `  rep ${String(rep + 1)}: cold pipgate ${s.pipgateColdMs.toFixed(0)} ms / bare ${s.bareColdMs.toFixed(0)} ms; warm pipgate ${s.pipgateWarmMs.toFixed(0)} ms / bare warm cache ${s.bareWarmCacheMs.toFixed(0)} ms (${String(s.warmContainers)} container(s))`,
      );
    }

    const p3 = await measureP3(join(dir, "r"), venvs, index.url, options, errors);

    const p4 = await measureP4(dir, venvs, index.url, p4Reps, errors);

    say("\nP6: one small wheel committed into an empty venv and into a 40 k-file venv, pairs alternated");
    const p6 = await runEnvSize(join(dir, "p6"), venvs, options.BENCH_P6_REPS, (line) => say(line));
    errors.push(...p6.errors);
    let corpus: CorpusSection | undefined;
    if (sections.has("corpus")) {
      corpus = await runCorpusSection(corpusSets.value, options.BENCH_REPS, join(dir, "corpus"), venvs, say, metadata);
      errors.push(...corpus.errors);
    }
    say("\nstart-up: pipgate install from process start to its first stage, --help, check");
    let startup: StartupFigures | undefined;
    try {
      startup = await measureStartup(options.BENCH_REPS, join(dir, "startup"), say);
    } catch (error) {
      errors.push(`start-up: ${error instanceof Error ? error.message : String(error)}`);
    }

    // Figures.
    const coldRatio = summarize(
      pairedRatios(
        coldWarm.map((s) => s.pipgateColdMs),
        coldWarm.map((s) => s.bareColdMs),
      ),
    );
    const warmVsCache = summarize(
      pairedRatios(
        coldWarm.map((s) => s.pipgateWarmMs),
        coldWarm.map((s) => s.bareWarmCacheMs),
      ),
    );
    const warmVsNoCache = summarize(
      pairedRatios(
        coldWarm.map((s) => s.pipgateWarmMs),
        coldWarm.map((s) => s.bareColdMs),
      ),
    );

    const lines: FigureLine[] = [
      {
        name: "P1 cold install, pipgate / bare pip --no-cache-dir",
        value: ratioText(coldRatio),
        target: ratioTarget(TARGETS.p1Cold),
        pass: verdict(coldRatio.median, TARGETS.p1Cold, "at-most"),
      },
      {
        name: "P2 warm install, pipgate / bare pip warm cache",
        value: ratioText(warmVsCache),
        target: ratioTarget(TARGETS.p2Warm),
        pass: verdict(warmVsCache.median, TARGETS.p2Warm, "at-most"),
      },
      { name: "P2 warm install, pipgate / bare pip --no-cache-dir", value: ratioText(warmVsNoCache), target: "(info)", pass: undefined },
      // The issue's order: P1, P2, P6, P3, P4, P5, then the start-up figure.
      ...p6.lines,
      ...p3.lines,
      ...p4.lines,
      ...(startup === undefined ? [] : startupLines(startup)),
    ];

    const bareCold = summarize(coldWarm.map((s) => s.bareColdMs));
    const bareWarm = summarize(coldWarm.map((s) => s.bareWarmCacheMs));
    const coldStages = summarizeStages(present<StageTimes>(coldWarm.map((s) => s.coldStages)));
    const warmStages = summarizeStages(present<StageTimes>(coldWarm.map((s) => s.warmStages)));
    const absolute = [
      `P1 cold: pipgate ${msText(summarize(coldWarm.map((s) => s.pipgateColdMs)))} (client round trip), bare pip --no-cache-dir ${msText(bareCold)}`,
      `P2 warm: pipgate ${msText(summarize(coldWarm.map((s) => s.pipgateWarmMs)))}, bare pip warm cache ${msText(bareWarm)}; warm installs started ${String(coldWarm.reduce((sum, s) => sum + s.warmContainers, 0))} container(s) in ${String(coldWarm.length)} repetitions`,
      ...p6.absolute,
      ...p4.absolute,
    ];
    const breakdown = [
      ...stageRows("P1 cold, pipgate's stages", coldStages, bareCold.median),
      ...stageRows("P2 warm, pipgate's stages", warmStages, bareWarm.median),
    ];
    const notes: string[] = [];
    if (lines[0]?.pass === false) notes.push(gapNote("P1 cold", coldStages, bareCold.median, TARGETS.p1Cold));
    if (lines[1]?.pass === false) notes.push(gapNote("P2 warm", warmStages, bareWarm.median, TARGETS.p2Warm));

    say("\nresults");
    for (const line of formatLines(lines)) say(`  ${line}`);
    say();
    for (const line of absolute) say(`  ${line}`);
    say("\nstage breakdown");
    for (const line of breakdown) say(`  ${line}`);
    if (notes.length > 0) {
      say("\nwhat holds the missed install targets back");
      for (const note of notes) say(`  ${note}`);
    }
    if (corpus !== undefined) {
      say("\nreal packages (bench corpus)");
      for (const line of consoleLines(corpus)) say(line === "" ? "" : `  ${line}`);
    }
    if (errors.length > 0) {
      say("\nerrors");
      for (const error of errors.slice(0, 20)) say(`  ${error}`);
      if (errors.length > 20) say(`  … and ${String(errors.length - 20)} more (all in RESULTS.md)`);
    }

    const finishedAt = new Date();
    const loadAtEnd = loadavg()
      .map((value) => value.toFixed(2))
      .join(" ");
    const markdown = [
      "# pipgate bench results",
      "",
      `Written by \`make bench\` (bench/run.ts), run of ${startedAt.toISOString()} (${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s). Every ratio is a median of per-repetition ratios, pipgate and its baseline run back to back in each repetition on the same machine and the same local index.`,
      "",
      "## Machine",
      "",
      ...formatMachine(machine).map((line) => `- ${line}`),
      `- load average at the end: ${loadAtEnd} (other work on the machine shares its two cores; paired ratios cancel part of it)`,
      `- repetitions: P1–P3 ${String(options.BENCH_REPS)}, P4/P5 ${String(p4Reps)}; P3 ${String(options.BENCH_REFUSALS)} refusals of each kind and ${String(options.BENCH_CHECKS)} checks per repetition`,
      "",
      "## Figures",
      "",
      ...markdownTable(lines),
      "",
      ...absolute.map((line) => `- ${line}`),
      "",
      "## Stage breakdown (from the audit records)",
      "",
      "```",
      ...breakdown,
      "```",
      "",
      ...(notes.length > 0 ? ["## What holds the missed targets back", "", ...notes.map((note) => `- ${note}`), ""] : []),
      ...(errors.length > 0 ? ["## Errors", "", ...errors.map((error) => `- ${error}`), ""] : []),
    ];
    const resultsPath = join(packageRoot(), "bench", "RESULTS.md");
    // Sections written by stand-alone benches (bench/sessions.ts, bench/hostile.ts) stay.
    const previous = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "";
    // The corpus section: this run's, or the previous one when this run skipped it.
    const corpusText =
      corpus === undefined ? sectionOf(previous, CORPUS_SECTION) : sectionOf(replaceSection("", CORPUS_SECTION, corpus.markdown), CORPUS_SECTION);
    const kept = [corpusText, ...STANDALONE_SECTIONS.map((name) => sectionOf(previous, name))].filter((section): section is string => section !== undefined);
    writeFileSync(resultsPath, `${[...markdown, ...kept.flatMap((section) => [section, ""])].join("\n")}\n`);
    say(`\nwrote ${resultsPath}`);
    return errors.length === 0 ? 0 : 1;
  } finally {
    await index.close();
    if (options.BENCH_KEEP === "1") say(`work directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

type BenchOptions = z.infer<typeof BenchEnvSchema>;

/** P3: refusal round trips and check_package throughput against one `pipgate serve` over stdio. */
async function measureP3(
  dir: string,
  venvs: VenvFactory,
  indexUrl: string,
  options: Pick<BenchOptions, "BENCH_REPS" | "BENCH_REFUSALS" | "BENCH_CHECKS" | "BENCH_CONCURRENCY">,
  errors: string[],
): Promise<{ lines: FigureLine[] }> {
  say("\nP3: refusals and check_package over stdio against the built CLI");
  const refusalSamples: RefusalSample[] = [];
  const serve = await startRefusalServer(dir, venvs, indexUrl);
  try {
    for (let rep = 0; rep < options.BENCH_REPS; rep += 1) {
      const sample = await runRefusals(serve, options.BENCH_REFUSALS, options.BENCH_CHECKS, options.BENCH_CONCURRENCY);
      refusalSamples.push(sample);
      if (sample.checkErrors > 0) errors.push(`P3 repetition ${String(rep + 1)}: ${String(sample.checkErrors)} check_package calls failed`);
      say(
        `  rep ${String(rep + 1)}: refusal p50 ${percentile(sample.latenciesMs.invalid, 50).toFixed(2)} ms (invalid), ${percentile(sample.latenciesMs["not-allowed"], 50).toFixed(2)} ms (not allowed); ${sample.checksPerSecond.toFixed(0)} checks/s`,
      );
    }
  } finally {
    await serve.close();
  }

  const pooled = (kind: RefusalKind) => refusalSamples.flatMap((sample) => sample.latenciesMs[kind]);
  const throughput = summarize(refusalSamples.map((sample) => sample.checksPerSecond));
  return {
    lines: [
      ...(Object.keys(REFUSALS) as RefusalKind[]).flatMap((kind): FigureLine[] => [
        {
          name: `P3 refusal round trip (${kind}) p50`,
          value: `${percentile(pooled(kind), 50).toFixed(2)} ms (n=${String(pooled(kind).length)})`,
          target: `≤ ${String(TARGETS.p3RefusalMs)} ms`,
          pass: verdict(percentile(pooled(kind), 50), TARGETS.p3RefusalMs, "at-most"),
        },
        { name: `P3 refusal round trip (${kind}) p99`, value: `${percentile(pooled(kind), 99).toFixed(2)} ms`, target: "(info)", pass: undefined },
      ]),
      {
        name: `P3 check_package throughput (${String(options.BENCH_CONCURRENCY)} in flight)`,
        value: `${throughput.median.toFixed(0)}/s (min ${throughput.min.toFixed(0)}, max ${throughput.max.toFixed(0)})`,
        target: `≥ ${String(TARGETS.p3Checks)}/s`,
        pass: verdict(throughput.median, TARGETS.p3Checks, "at-least"),
      },
    ],
  };
}

/** P4 and P5: eight agents concurrent and one by one on SQLite, then concurrent on a fleet on PostgreSQL. */
async function measureP4(
  dir: string,
  venvs: VenvFactory,
  indexUrl: string,
  p4Reps: number,
  errors: string[],
): Promise<{ lines: FigureLine[]; absolute: string[] }> {
  say("\nP4/P5: eight agents on four environments, concurrent and one call at a time");
  const agentRuns: Array<{ concurrent: AgentRun; sequential: AgentRun }> = [];
  for (let rep = 0; rep < p4Reps; rep += 1) {
    const order = rep % 2 === 0 ? (["concurrent", "sequential"] as const) : (["sequential", "concurrent"] as const);
    const runs: Partial<Record<"concurrent" | "sequential", AgentRun>> = {};
    for (const mode of order) runs[mode] = await runAgents(mode, join(dir, `a${String(rep)}${mode.slice(0, 1)}`), venvs, indexUrl);
    const { concurrent, sequential } = runs;
    if (concurrent === undefined || sequential === undefined) continue;
    agentRuns.push({ concurrent, sequential });
    for (const run of [concurrent, sequential]) {
      for (const error of run.errors) errors.push(`P4 ${run.mode} repetition ${String(rep + 1)}: ${error}`);
      if (run.auditRecords !== run.calls)
        errors.push(`P4 ${run.mode} repetition ${String(rep + 1)}: ${String(run.calls)} calls but ${String(run.auditRecords)} audit records`);
      if (!run.auditChainOk) errors.push(`P4 ${run.mode} repetition ${String(rep + 1)}: the audit chain does not verify`);
    }
    say(
      `  rep ${String(rep + 1)}: concurrent ${concurrent.wallMs.toFixed(0)} ms, one by one ${sequential.wallMs.toFixed(0)} ms; ${String(concurrent.errors.length + sequential.errors.length)} errors; audit ${String(concurrent.auditRecords)}/${String(concurrent.calls)} and ${String(sequential.auditRecords)}/${String(sequential.calls)}`,
    );
  }

  say("\nP4 fleet: the same eight agents, concurrent, on three brokers sharing one PostgreSQL database");
  const fleet = await runFleetAgents(join(dir, "fleet"), venvs, indexUrl, p4Reps, (line) => say(line));
  errors.push(...fleet.errors);

  const p4Ratio = summarize(
    pairedRatios(
      agentRuns.map((r) => r.concurrent.wallMs),
      agentRuns.map((r) => r.sequential.wallMs),
    ),
  );
  const p4Errors = agentRuns.reduce((sum, r) => sum + r.concurrent.errors.length + r.sequential.errors.length, 0);
  const p4Calls = agentRuns.reduce((sum, r) => sum + r.concurrent.calls + r.sequential.calls, 0);
  const p4Audited = agentRuns.reduce((sum, r) => sum + r.concurrent.auditRecords + r.sequential.auditRecords, 0);
  const idle = Math.max(...agentRuns.flatMap((r) => [...r.concurrent.idleRssBytes, ...r.sequential.idleRssBytes]));
  const peak = Math.max(...agentRuns.flatMap((r) => r.concurrent.peakHwmBytes));
  const peakSum = Math.max(...agentRuns.map((r) => r.concurrent.peakSampledRssBytes.reduce((a, b) => a + b, 0)));
  const MB = 2 ** 20;
  return {
    lines: [
      { name: "P4 errors over all calls", value: `${String(p4Errors)} of ${String(p4Calls)}`, target: "0", pass: p4Calls > 0 && p4Errors === 0 },
      { name: "P4 audit records vs calls", value: `${String(p4Audited)} / ${String(p4Calls)}`, target: "equal", pass: p4Calls > 0 && p4Audited === p4Calls },
      {
        name: "P4 wall time, 8 agents at once / one by one",
        value: ratioText(p4Ratio),
        target: ratioTarget(TARGETS.p4Agents),
        pass: verdict(p4Ratio.median, TARGETS.p4Agents, "at-most"),
      },
      ...fleet.lines(agentRuns.map((r) => r.concurrent.wallMs)),
      { name: "P5 serve RSS idle (largest of 8 processes)", value: mbText(idle), target: "≤ 100 MB", pass: verdict(idle / MB, 100, "at-most") },
      { name: "P5 serve RSS peak under P4 (largest VmHWM)", value: mbText(peak), target: "≤ 200 MB", pass: verdict(peak / MB, 200, "at-most") },
      { name: "P5 sum of 8 serve processes' peak RSS", value: mbText(peakSum), target: "(info)", pass: undefined },
    ],
    absolute: [
      `P4 fleet: concurrent ${msText(summarize(fleet.runs.map((r) => r.wallMs)))} on 3 brokers sharing one PostgreSQL database`,
      `P4: concurrent ${msText(summarize(agentRuns.map((r) => r.concurrent.wallMs)))}, one by one ${msText(summarize(agentRuns.map((r) => r.sequential.wallMs)))} for ${String(agentRuns[0]?.concurrent.calls ?? 0)} calls (8 agents × 6: 2 installs, 3 checks, 1 listing)`,
    ],
  };
}

/** Replaces one stand-alone bench's section of RESULTS.md (a full run keeps it: STANDALONE_SECTIONS). */
function writeSection(name: (typeof STANDALONE_SECTIONS)[number], section: string[]): void {
  const resultsPath = join(packageRoot(), "bench", "RESULTS.md");
  const previous = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "# pipgate bench results\n";
  writeFileSync(resultsPath, replaceSection(previous, name, section));
  say(`\nwrote ${resultsPath}`);
}

/** BENCH_ONLY=agents: P3 and P4 (one broker on SQLite, three on PostgreSQL), as their own section of RESULTS.md. */
async function runAgentsOnly(options: BenchOptions): Promise<number> {
  const startedAt = new Date();
  const p4Reps = options.BENCH_P4_REPS ?? Math.ceil(options.BENCH_REPS / 3);
  const machine = await machineInfo(baseInterpreter());
  say("pipgate bench — P3 and P4 only: check_package, refusals, eight agents on SQLite and on a PostgreSQL fleet");
  for (const line of formatMachine(machine)) say(`  ${line}`);
  say(`  repetitions: P3 ${String(options.BENCH_REPS)}, P4 ${String(p4Reps)}`);
  await requireDocker();
  const dir = mkdtempSync(join(tmpdir(), "pipgate-bench-agents-"));
  const index = await startIndexServer({ projects: benchProjects(), metadata: options.BENCH_METADATA === "1" });
  const errors: string[] = [];
  try {
    const venvs = await createVenvFactory(dir);
    const p3 = await measureP3(join(dir, "r"), venvs, index.url, options, errors);
    const p4 = await measureP4(dir, venvs, index.url, p4Reps, errors);
    const lines = [...p3.lines, ...p4.lines];
    say("\nresults");
    for (const line of formatLines(lines)) say(`  ${line}`);
    for (const line of p4.absolute) say(`  ${line}`);
    for (const error of errors) say(`  error: ${error}`);
    writeSection("agents", [
      "## P3 and P4: check_package, refusals, eight agents on SQLite and on a fleet (`BENCH_ONLY=agents`)",
      "",
      `Run of ${startedAt.toISOString()}; P3 ${String(options.BENCH_REPS)} repetitions, P4 ${String(p4Reps)}; load average at the end ${loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")}.`,
      "",
      ...markdownTable(lines),
      "",
      ...p4.absolute.map((line) => `- ${line}`),
      ...errors.map((error) => `- error: ${error}`),
    ]);
    return errors.length === 0 ? 0 : 1;
  } finally {
    await index.close();
    if (options.BENCH_KEEP === "1") say(`work directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** BENCH_ONLY=p6: P6 alone, printed, and written as its own section of RESULTS.md (a full run keeps it). */
async function runP6Only(reps: number, keep: boolean): Promise<number> {
  const startedAt = new Date();
  const machine = await machineInfo(baseInterpreter());
  say("pipgate bench — P6 only: commit cost against environment size");
  for (const line of formatMachine(machine)) say(`  ${line}`);
  const dir = mkdtempSync(join(tmpdir(), "pipgate-bench-p6-"));
  try {
    const venvs = await createVenvFactory(dir);
    say(`\nP6: one small wheel committed into an empty venv and into a 40 k-file venv, ${String(reps)} pairs alternated`);
    const p6 = await runEnvSize(join(dir, "p6"), venvs, reps, (line) => say(line));
    say("\nresults");
    for (const line of formatLines(p6.lines)) say(`  ${line}`);
    for (const line of p6.absolute) say(`  ${line}`);
    for (const error of p6.errors) say(`  error: ${error}`);
    writeSection("env-size", [
      "## P6: commit cost against environment size (`BENCH_ONLY=p6`)",
      "",
      `Run of ${startedAt.toISOString()}; load average at the end ${loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")}.`,
      "",
      ...markdownTable(p6.lines),
      "",
      ...p6.absolute.map((line) => `- ${line}`),
      ...p6.errors.map((error) => `- error: ${error}`),
    ]);
    return p6.errors.length === 0 ? 0 : 1;
  } finally {
    if (keep) say(`work directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** BENCH_SECTIONS=corpus: only the corpus section, which replaces its own part of RESULTS.md. */
async function corpusOnly(sets: Parameters<typeof runCorpusSection>[0], reps: number, keep: boolean, metadata: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-bench-"));
  try {
    const venvs = await createVenvFactory(dir);
    const corpus = await runCorpusSection(sets, reps, dir, venvs, say, metadata);
    say("\nreal packages (bench corpus)");
    for (const line of consoleLines(corpus)) say(line === "" ? "" : `  ${line}`);
    if (corpus.errors.length > 0) {
      say("\nerrors");
      for (const error of corpus.errors) say(`  ${error}`);
    }
    const resultsPath = join(packageRoot(), "bench", "RESULTS.md");
    const previous = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8") : "# pipgate bench results\n";
    writeFileSync(resultsPath, replaceSection(previous, CORPUS_SECTION, corpus.markdown));
    say(`\nwrote the corpus section of ${resultsPath}`);
    return corpus.errors.length === 0 ? 0 : 1;
  } finally {
    if (keep) say(`work directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
