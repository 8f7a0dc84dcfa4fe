import { z } from "zod";

/** Every way a request can end; the audit log records exactly one of them per request. */
export const OUTCOMES = [
  "installed",
  "already-satisfied",
  "allowed",
  "denied",
  "invalid",
  "rate-limited",
  "pending",
  "approved",
  "rejected",
  "expired",
  "failed",
  "timed-out",
  "rolled-back",
  "reaped",
  "listed",
] as const;

/** Outcomes are a closed set: a report or filter can rely on knowing every one. */
export const OutcomeSchema = z.enum(OUTCOMES).describe("how the request ended");
export type Outcome = z.infer<typeof OutcomeSchema>;

/** How reports group outcomes: what got in, what policy kept out, what broke, and the rest. */
export type OutcomeKind = "installed" | "refused" | "failed" | "other";

export const OUTCOME_KIND: Readonly<Record<Outcome, OutcomeKind>> = {
  installed: "installed",
  "already-satisfied": "installed",
  allowed: "other",
  denied: "refused",
  invalid: "refused",
  "rate-limited": "refused",
  pending: "other",
  approved: "other",
  rejected: "refused",
  expired: "refused",
  failed: "failed",
  "timed-out": "failed",
  "rolled-back": "failed",
  reaped: "other",
  listed: "other",
};

/** What was actually installed, so an auditor can match it byte for byte (sha256) against the index. */
export const ResolvedDistributionSchema = z.object({
  name: z.string().describe("normalised distribution name"),
  version: z.string().describe("the exact version resolved"),
  sha256: z.string().describe("hash of the file that was verified and installed"),
  filename: z.string().optional().describe("the wheel or sdist file name"),
});

/** The sandbox run's cost and ending, enough to spot timeouts and memory abuse without the logs. */
export const SandboxSummarySchema = z.object({
  durationMs: z.number().optional().describe("wall-clock time the container ran"),
  exitCode: z.number().nullable().optional().describe("pip's exit code inside the container; null when killed"),
  timedOut: z.boolean().optional().describe("the wall-clock timeout ended the run"),
  peakMemoryBytes: z.number().optional().describe("the container's peak memory use"),
  image: z.string().optional().describe("the sandbox image used"),
  cached: z.boolean().optional().describe("a verified resolution was reused: no container ran, policy was checked afresh"),
  runtime: z.string().optional().describe("the OCI runtime the container ran under (runc, runsc)"),
  oomKilled: z.boolean().optional().describe("the memory limit ended the build"),
  outputBytes: z.number().optional().describe("bytes the build wrote to its stdout and stderr"),
  log: z.string().optional().describe("the last lines of pip's output when the build failed (bounded)"),
});

/** The part of a record that lives in the `body` column: everything not indexed as its own column. */
export const AuditBodySchema = z.object({
  arguments: z.unknown().describe("the raw tool arguments as received, attacker-controlled"),
  reason: z.string().optional().describe("one line: why (refusal message, error)"),
  request: z.unknown().optional().describe("the normalised request (requirement, specifier, upgrade, timeout)"),
  decision: z.unknown().optional().describe("the policy decision with every rule's result"),
  resolved: z.array(ResolvedDistributionSchema).optional().describe("every distribution of the resolved set"),
  sandbox: SandboxSummarySchema.optional().describe("what the sandbox run cost and how it ended"),
  commit: z.unknown().optional().describe("the commit outcome (installed list, rollback info)"),
  approval: z.unknown().optional().describe("the approval request and who decided it"),
  durationMs: z.number().optional().describe("the whole request's wall-clock time"),
});
export type AuditBody = z.infer<typeof AuditBodySchema>;

/** What a caller hands to the log: one per request, whatever the outcome. */
export const AuditInputSchema = AuditBodySchema.extend({
  identity: z.string().min(1).describe("who asked: the stdio identity or the HTTP grant"),
  tool: z.string().min(1).describe("the MCP tool or CLI command that was called"),
  environment: z.string().optional().describe("the target environment's name"),
  package: z.string().optional().describe("the normalised (PEP 503) package name"),
  outcome: OutcomeSchema,
});
export type AuditInput = z.infer<typeof AuditInputSchema>;

/** A stored record: the input plus its place in the chain. */
export const AuditRecordSchema = AuditInputSchema.extend({
  seq: z.number().int().positive().describe("position in the chain, from 1, without gaps"),
  id: z.string().describe("sortable unique id, aud_ + time + randomness"),
  time: z.string().describe("when the record was appended, ISO 8601 UTC"),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/).describe("the previous record's hash; 64 zeros for the first"),
  hash: z.string().regex(/^[0-9a-f]{64}$/).describe("sha256 over the record's canonical form"),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/** Which records a query returns; every field narrows, none given means all. */
export interface AuditFilter {
  since?: Date | string;
  until?: Date | string;
  identity?: string;
  environment?: string;
  package?: string;
  outcome?: Outcome | Outcome[];
  tool?: string;
  limit?: number;
  order?: "asc" | "desc";
}

export type TamperKind = "edited" | "deleted" | "reordered" | "inserted";

/** The chain check's answer: intact with its head, or the first record that breaks it and how. */
export type VerifyResult =
  | { ok: true; count: number; head: string }
  | { ok: false; count: number; firstBad: { seq: number; id: string; problem: TamperKind; detail: string } };

/** The first record's predecessor: a fixed value, so the chain has one agreed starting point. */
export const GENESIS_HASH = "0".repeat(64);

const RECORD_KEY_ORDER = [
  "seq",
  "id",
  "time",
  "identity",
  "tool",
  "environment",
  "package",
  "outcome",
  "arguments",
  "reason",
  "request",
  "decision",
  "resolved",
  "sandbox",
  "commit",
  "approval",
  "durationMs",
  "prevHash",
  "hash",
] as const satisfies ReadonlyArray<keyof AuditRecord>;

/** One key order everywhere (store, export, import), so a record serialises the same way each time. */
export function orderRecordKeys(record: AuditRecord): AuditRecord {
  const ordered: Record<string, unknown> = {};
  for (const key of RECORD_KEY_ORDER) if (record[key] !== undefined) ordered[key] = record[key];
  return ordered as AuditRecord;
}
