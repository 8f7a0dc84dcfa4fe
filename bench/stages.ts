import { z } from "zod";
import type { AuditRecord } from "../src/audit/types.js";
import { summarize, type Summary } from "./stats.js";

/**
 * The timings an install's audit record carries. Read through a schema of its own, every field
 * optional: the pipeline is being reshaped, and a stage it no longer runs should show as absent.
 */
export const InstallTimingsSchema = z.object({
  durationMs: z.number().optional().describe("the whole request, as the pipeline measured it"),
  sandbox: z.object({ durationMs: z.number().optional() }).loose().optional().describe("the container run"),
  commit: z.object({ durationMs: z.number().optional() }).loose().optional().describe("the commit into the venv"),
});

/** One install's time split by stage; `other` is the rest (policy, proxy, verify, audit …). */
export interface StageTimes {
  totalMs: number;
  sandboxMs: number | undefined;
  commitMs: number | undefined;
  otherMs: number;
}

/** Pure: an audit record's stage times, or undefined when it carries no total. */
export function stageTimes(record: Pick<AuditRecord, "durationMs" | "sandbox" | "commit">): StageTimes | undefined {
  const parsed = InstallTimingsSchema.safeParse(record);
  if (!parsed.success || parsed.data.durationMs === undefined) return undefined;
  const totalMs = parsed.data.durationMs;
  const sandboxMs = parsed.data.sandbox?.durationMs;
  const commitMs = parsed.data.commit?.durationMs;
  return { totalMs, sandboxMs, commitMs, otherMs: totalMs - (sandboxMs ?? 0) - (commitMs ?? 0) };
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
  };
}
