import { z } from "zod";
import type { AuditRecord } from "../src/audit/types.js";
import { summarize, type Summary } from "./stats.js";

/**
 * The timings an install's audit record carries. Read through a schema of its own, every field
 * optional: the pipeline is being reshaped, and a stage it no longer runs should show as absent.
 */
export const InstallTimingsSchema = z.object({
  durationMs: z.number().optional().describe("the whole request, as the pipeline measured it"),
  sandbox: z
    .object({
      durationMs: z.number().optional(),
      pooled: z.boolean().optional(),
      verifyMs: z.number().optional(),
      timings: z.record(z.string(), z.number().optional()).optional(),
    })
    .loose()
    .optional()
    .describe("the container run, its split (create, start, boot, pip, exit, read, teardown) and the verification after it"),
  commit: z
    .object({ durationMs: z.number().optional(), timings: z.record(z.string(), z.number().optional()).optional() })
    .loose()
    .optional()
    .describe("the commit into the venv and its split (stage, lock, inspect, plan, backup, write, compile, finish)"),
});

/** One install's time split by stage; `other` is the rest (policy, proxy, verify, audit …). */
export interface StageTimes {
  totalMs: number;
  sandboxMs: number | undefined;
  commitMs: number | undefined;
  otherMs: number;
  /** the sandbox stage split (audit sandbox.timings, and verifyMs after the container), when it ran */
  split?: Partial<Record<SplitPart, number>>;
  /** the commit stage split (audit commit.timings), when it ran to its end */
  commitSplit?: Partial<Record<CommitPart, number>>;
  pooled?: boolean | undefined;
}

/** The parts of a sandbox run, in the order they happen; verify is after the container, in `other`. */
export const SPLIT_PARTS = ["createMs", "startMs", "bootMs", "pipMs", "exitMs", "readMs", "teardownMs", "verifyMs"] as const;
export type SplitPart = (typeof SPLIT_PARTS)[number];

/** The parts of a commit, in the order they happen (src/commit/request.ts CommitTimings). */
export const COMMIT_PARTS = ["stageMs", "lockMs", "inspectMs", "planMs", "backupMs", "writeMs", "compileMs", "finishMs"] as const;
export type CommitPart = (typeof COMMIT_PARTS)[number];

function pick<P extends string>(parts: readonly P[], values: Record<string, number | undefined> | undefined): Partial<Record<P, number>> {
  const picked: Partial<Record<P, number>> = {};
  for (const part of parts) {
    const value = values?.[part];
    if (typeof value === "number") picked[part] = value;
  }
  return picked;
}

/** Pure: an audit record's stage times, or undefined when it carries no total. */
export function stageTimes(record: Pick<AuditRecord, "durationMs" | "sandbox" | "commit">): StageTimes | undefined {
  const parsed = InstallTimingsSchema.safeParse(record);
  if (!parsed.success || parsed.data.durationMs === undefined) return undefined;
  const totalMs = parsed.data.durationMs;
  const sandboxMs = parsed.data.sandbox?.durationMs;
  const commitMs = parsed.data.commit?.durationMs;
  const split = pick(SPLIT_PARTS, { ...parsed.data.sandbox?.timings, verifyMs: parsed.data.sandbox?.verifyMs });
  const commitSplit = pick(COMMIT_PARTS, parsed.data.commit?.timings);
  return {
    totalMs,
    sandboxMs,
    commitMs,
    otherMs: totalMs - (sandboxMs ?? 0) - (commitMs ?? 0),
    split,
    ...(Object.keys(commitSplit).length === 0 ? {} : { commitSplit }),
    pooled: parsed.data.sandbox?.pooled,
  };
}

/** Medians per stage over repetitions, for the breakdown table. */
export interface StageSummary {
  total: Summary;
  sandbox: Summary;
  commit: Summary;
  other: Summary;
  /** how many repetitions ran the stage at all (a warm path may skip the sandbox) */
  sandboxRuns: number;
  commitRuns: number;
  /** medians of the sandbox split, per part present */
  split: Partial<Record<SplitPart, Summary>>;
  /** medians of the commit split, per part present */
  commitSplit: Partial<Record<CommitPart, Summary>>;
  /** runs whose container came from the warm pool */
  pooledRuns: number;
}

export function summarizeStages(samples: readonly StageTimes[]): StageSummary {
  const present = (values: Array<number | undefined>) => values.filter((value): value is number => value !== undefined);
  const sandbox = present(samples.map((sample) => sample.sandboxMs));
  const commit = present(samples.map((sample) => sample.commitMs));
  return {
    total: summarize(samples.map((sample) => sample.totalMs)),
    sandbox: summarize(sandbox),
    commit: summarize(commit),
    other: summarize(samples.map((sample) => sample.otherMs)),
    sandboxRuns: sandbox.length,
    commitRuns: commit.length,
    split: Object.fromEntries(
      SPLIT_PARTS.map((part) => [part, present(samples.map((sample) => sample.split?.[part]))] as const)
        .filter(([, values]) => values.length > 0)
        .map(([part, values]) => [part, summarize(values)]),
    ),
    commitSplit: Object.fromEntries(
      COMMIT_PARTS.map((part) => [part, present(samples.map((sample) => sample.commitSplit?.[part]))] as const)
        .filter(([, values]) => values.length > 0)
        .map(([part, values]) => [part, summarize(values)]),
    ),
    pooledRuns: samples.filter((sample) => sample.pooled === true).length,
  };
}
