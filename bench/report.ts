import type { Summary } from "./stats.js";
import { COMMIT_PARTS, SPLIT_PARTS, type StageSummary } from "./stages.js";

/** One printed figure: what was measured against what it should be. `pass` undefined: informational. */
export interface FigureLine {
  name: string;
  value: string;
  target: string;
  pass: boolean | undefined;
}

/** "1.62× (min 1.50, max 1.80)": the paired-ratio form every P1/P2/P4 figure takes. */
export function ratioText(summary: Summary): string {
  return `${summary.median.toFixed(2)}× (min ${summary.min.toFixed(2)}, max ${summary.max.toFixed(2)}, n=${String(summary.n)})`;
}

/** Milliseconds with their range, for the absolute times behind each ratio. */
export function msText(summary: Summary): string {
  if (summary.n === 0) return "—";
  const digits = summary.median < 20 ? 2 : 0;
  return `${summary.median.toFixed(digits)} ms (${summary.min.toFixed(digits)}–${summary.max.toFixed(digits)})`;
}

export function mbText(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/** Pure: PASS/MISS from a value and a bound; a NaN (the figure could not be measured) is a MISS. */
export function verdict(value: number, bound: number, direction: "at-most" | "at-least"): boolean {
  if (Number.isNaN(value)) return false;
  return direction === "at-most" ? value <= bound : value >= bound;
}

/** The figures as an aligned plain-text table, the console's form. */
export function formatLines(lines: readonly FigureLine[]): string[] {
  const nameWidth = Math.max(...lines.map((line) => line.name.length));
  const valueWidth = Math.max(...lines.map((line) => line.value.length));
  const targetWidth = Math.max(...lines.map((line) => line.target.length));
  return lines.map((line) =>
    `${line.name.padEnd(nameWidth)}  ${line.value.padEnd(valueWidth)}  ${line.target.padEnd(targetWidth)}  ${line.pass === undefined ? "" : line.pass ? "PASS" : "MISS"}`.trimEnd(),
  );
}

/** The figures as a Markdown table, RESULTS.md's form. */
export function markdownTable(lines: readonly FigureLine[]): string[] {
  return [
    "| figure | measured | target | |",
    "|---|---|---|---|",
    ...lines.map((line) => `| ${line.name} | ${line.value} | ${line.target} | ${line.pass === undefined ? "" : line.pass ? "PASS" : "**MISS**"} |`),
  ];
}

/** One row per stage of an install, medians and ranges over the repetitions. */
export function stageRows(label: string, stages: StageSummary, bareMedianMs: number): string[] {
  const share = (summary: Summary) =>
    summary.n === 0 || stages.total.median <= 0 ? "" : ` = ${((summary.median / stages.total.median) * 100).toFixed(0)}% of total`;
  return [
    `${label} (audit durationMs, n=${String(stages.total.n)}; bare pip median ${bareMedianMs.toFixed(0)} ms):`,
    `  total    ${msText(stages.total)}`,
    `  sandbox  ${msText(stages.sandbox)}${share(stages.sandbox)}${stages.sandboxRuns < stages.total.n ? ` (ran in ${String(stages.sandboxRuns)} of ${String(stages.total.n)})` : ""}`,
    `  commit   ${msText(stages.commit)}${share(stages.commit)}${stages.commitRuns < stages.total.n ? ` (ran in ${String(stages.commitRuns)} of ${String(stages.total.n)})` : ""}`,
    `  other    ${msText(stages.other)}${share(stages.other)} (policy, proxy, verify, audit, listing the venv)`,
    ...splitRows(stages),
  ];
}

/** The sandbox and commit stages split into their parts (medians), and how many runs had a pooled container. */
function splitRows(stages: StageSummary): string[] {
  const parts = SPLIT_PARTS.filter((part) => stages.split[part] !== undefined).map(
    (part) => `${part.replace(/Ms$/, "")} ${(stages.split[part]?.median ?? 0).toFixed(0)}`,
  );
  const commitParts = COMMIT_PARTS.filter((part) => stages.commitSplit[part] !== undefined).map(
    (part) => `${part.replace(/Ms$/, "")} ${(stages.commitSplit[part]?.median ?? 0).toFixed(0)}`,
  );
  return [
    ...(parts.length === 0
      ? []
      : [`  sandbox split (medians, ms): ${parts.join(", ")}; pooled container in ${String(stages.pooledRuns)} of ${String(stages.sandboxRuns)}`]),
    ...(commitParts.length === 0 ? [] : [`  commit split (medians, ms): ${commitParts.join(", ")}`]),
  ];
}

/**
 * Pure: a sentence on what holds back a missed install target, from the stage medians: how far the
 * total is above the allowed time, and which stage alone would already use the allowance.
 */
export function gapNote(figure: string, stages: StageSummary, bareMedianMs: number, targetRatio: number): string {
  const allowed = bareMedianMs * targetRatio;
  const over = stages.total.median - allowed;
  const parts = [
    `${figure}: pipgate's own median is ${stages.total.median.toFixed(0)} ms against an allowance of ${allowed.toFixed(0)} ms (${targetRatio.toFixed(1)}× bare pip's ${bareMedianMs.toFixed(0)} ms), ${over.toFixed(0)} ms over.`,
  ];
  const ranked = (
    [
      ["the sandbox run", stages.sandbox.median],
      ["the commit", stages.commit.median],
      ["the rest (policy, proxy, verify, audit, venv listing)", stages.other.median],
    ] as Array<[string, number]>
  )
    .filter(([, ms]) => !Number.isNaN(ms))
    .sort((a, b) => b[1] - a[1]);
  const biggest = ranked[0];
  if (biggest !== undefined) {
    parts.push(
      `The largest stage is ${biggest[0]} at ${biggest[1].toFixed(0)} ms (${((biggest[1] / bareMedianMs) * 100).toFixed(0)}% of a whole bare install)${biggest[1] >= allowed ? ", which alone exceeds the allowance" : ""}.`,
    );
  }
  const rest = ranked.slice(1).map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`);
  if (rest.length > 0) parts.push(`Then ${rest.join(", ")}.`);
  return parts.join(" ");
}
