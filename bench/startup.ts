// `node dist/bench/startup.js`: the CLI's start-up, as a user meets it — the time from process start to
// `pipgate install`'s first stage, and the wall time of `pipgate --help` and `pipgate check`. Writes its
// own section of RESULTS.md (a full `make bench` runs it too). No Docker: the install asks for a
// project the allowlist does not name, so it ends at the policy stage it is timed to.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import { packageRoot } from "../src/paths.js";
import { startIndexServer } from "../test/fixtures/index-server.js";
import { benchProjects } from "./catalogue.js";
import { formatLines, markdownTable, msText, verdict, type FigureLine } from "./report.js";
import { replaceSection } from "./results-section.js";
import { summarize, type Summary } from "./stats.js";
import { TARGETS } from "./targets.js";
import { createVenvFactory } from "./venvs.js";
import { cliBin, writeBenchConfig } from "./workspace.js";

/** Issue 16: `pipgate install` reaches its first stage within 150 ms of process start. */
export const STARTUP_TARGET_MS = TARGETS.startupMs;

export interface StartupFigures {
  /** process start → the first stage's debug line (its own performance.now()) */
  firstStageMs: Summary;
  /** the CLI's own CPU time (user + system) at its first stage: what a loaded machine inflates least */
  firstStageCpuMs: Summary;
  /** spawn → exit, as the bench's clock sees it, for the same install */
  installWallMs: Summary;
  helpWallMs: Summary;
  checkWallMs: Summary;
  /** a bare `node -e 0`, the floor every one of them pays */
  nodeWallMs: Summary;
}

/** package.json's bin: the bundle (`npm run build`), what an installed pipgate runs. */
const BIN = cliBin;

async function timed(args: string[], env: Record<string, string> = {}): Promise<{ ms: number; stderr: string; exitCode: number | undefined }> {
  const started = performance.now();
  const result = await execa(process.execPath, args, { reject: false, timeout: 120_000, stdin: "ignore", env, extendEnv: true });
  return { ms: performance.now() - started, stderr: result.stderr, exitCode: result.exitCode };
}

/** Pure: the `sinceProcessStartMs` of the CLI's "first stage" debug line in its stderr (pino JSON lines). */
export function firstStageMs(stderr: string): number | undefined {
  return firstStageField(stderr, "sinceProcessStartMs");
}

/** Pure: one numeric field of the CLI's "first stage" debug line. */
export function firstStageField(stderr: string, field: string): number | undefined {
  for (const line of stderr.split("\n")) {
    if (!line.includes('"first stage"')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const value = parsed[field];
      if (typeof value === "number") return value;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** `reps` rounds of: node's floor, `--help`, `check`, and an install refused at policy (debug log on). */
export async function measureStartup(reps: number, dir: string, say: (line: string) => void = () => undefined): Promise<StartupFigures> {
  mkdirSync(dir, { recursive: true });
  const venvs = await createVenvFactory(dir);
  const python = await venvs.fresh(join(dir, "venv"));
  const index = await startIndexServer({ projects: benchProjects() });
  const first: number[] = [];
  const firstCpu: number[] = [];
  const install: number[] = [];
  const help: number[] = [];
  const check: number[] = [];
  const node: number[] = [];
  try {
    const config = writeBenchConfig(join(dir, "g"), { indexUrl: index.url, stateDir: join(dir, "s"), environments: { cold: python } });
    // One untimed run first: the state directory's creation and the OS's page cache are not start-up.
    await timed([BIN(), "install", "--config", config, "cold", "not-on-the-list"]);
    for (let rep = 0; rep < reps; rep += 1) {
      node.push((await timed(["-e", "0"])).ms);
      help.push((await timed([BIN(), "--help"])).ms);
      check.push((await timed([BIN(), "check", "--config", config, "cold", "quillmark"])).ms);
      const run = await timed([BIN(), "install", "--log-level", "debug", "--config", config, "cold", "not-on-the-list"]);
      const ms = firstStageMs(run.stderr);
      if (ms === undefined) throw new Error(`pipgate install printed no first-stage line (exit ${String(run.exitCode)}): ${run.stderr.slice(-400)}`);
      first.push(ms);
      firstCpu.push(firstStageField(run.stderr, "cpuMs") ?? Number.NaN);
      install.push(run.ms);
      say(
        `  rep ${String(rep + 1)}: first stage ${ms.toFixed(0)} ms after process start (${firstCpu.at(-1)?.toFixed(0) ?? "?"} ms CPU); install ${run.ms.toFixed(0)} ms wall, --help ${help.at(-1)?.toFixed(0) ?? "?"} ms, check ${check.at(-1)?.toFixed(0) ?? "?"} ms, node -e 0 ${node.at(-1)?.toFixed(0) ?? "?"} ms`,
      );
    }
  } finally {
    await index.close();
  }
  return {
    firstStageMs: summarize(first),
    firstStageCpuMs: summarize(firstCpu),
    installWallMs: summarize(install),
    helpWallMs: summarize(help),
    checkWallMs: summarize(check),
    nodeWallMs: summarize(node),
  };
}

/** Pure: the figures as report lines. */
export function startupLines(figures: StartupFigures): FigureLine[] {
  return [
    {
      name: "start-up: pipgate install, process start → first stage",
      value: msText(figures.firstStageMs),
      target: `≤ ${String(STARTUP_TARGET_MS)} ms`,
      pass: verdict(figures.firstStageMs.median, STARTUP_TARGET_MS, "at-most"),
    },
    { name: "start-up: pipgate install, CPU time at its first stage", value: msText(figures.firstStageCpuMs), target: "(info)", pass: undefined },
    { name: "start-up: pipgate install refused at policy, wall", value: msText(figures.installWallMs), target: "(info)", pass: undefined },
    { name: "start-up: pipgate --help, wall", value: msText(figures.helpWallMs), target: "(info)", pass: undefined },
    { name: "start-up: pipgate check ENV REQ, wall", value: msText(figures.checkWallMs), target: "(info)", pass: undefined },
    { name: "start-up: node -e 0, wall (the floor)", value: msText(figures.nodeWallMs), target: "(info)", pass: undefined },
  ];
}

async function main(): Promise<number> {
  const reps = Number(process.env["BENCH_REPS"] ?? "5");
  const dir = mkdtempSync(join(tmpdir(), "pgs-"));
  try {
    const loadStart = (loadavg()[0] ?? 0).toFixed(1);
    process.stdout.write(`start-up: ${String(reps)} repetitions\n`);
    const figures = await measureStartup(reps, dir, (line) => process.stdout.write(`${line}\n`));
    const lines = startupLines(figures);
    process.stdout.write(`${formatLines(lines).join("\n")}\n`);
    const resultsPath = join(packageRoot(), "bench", "RESULTS.md");
    const section = [
      "## Start-up: `pipgate install` to its first stage (bench/startup.ts)",
      "",
      `\`node dist/bench/startup.js\`, run of ${new Date().toISOString()} (load average ${loadStart} at its start, ${(loadavg()[0] ?? 0).toFixed(1)} at its end), ${String(reps)} repetitions: package.json's bin (the bundle \`npm run build\` writes), one process per command, a state directory that exists; the install asks for a project the allowlist does not name, so it ends at the policy stage. "First stage" is the CLI's own \`performance.now()\` (milliseconds since its process started) when it enters the policy stage, read from its debug log.`,
      "",
      ...markdownTable(lines),
      "",
    ];
    writeFileSync(resultsPath, replaceSection(readFileSync(resultsPath, "utf8"), "startup", section));
    process.stdout.write(`wrote the start-up section of ${resultsPath}\n`);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("startup.js") === true) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`start-up bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
