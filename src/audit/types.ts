import { z } from "zod";

/**
 * Every way a request can end; the audit log records exactly one of them per request, even across a
 * crash. "interrupted": the broker died mid-request and start-up recovery closed it, saying what it
 * found. "rolled-back": start-up recovery restored a commit whose request had already ended (a restore
 * that failed before), recorded as recovery's own request.
 */
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
  "interrupted",
  "forwarded",
] as const;

/** Outcomes are a closed set: a report or filter can rely on knowing every one. */
export const OutcomeSchema = z.enum(OUTCOMES).describe("how the request ended");
export type Outcome = z.infer<typeof OutcomeSchema>;

/**
 * The marker of an intent record. A request that starts work that can change anything (a sandbox run, a
 * commit) first appends an intent in the same hash chain; its outcome record follows and names the same
 * request id. So an intent is a record kind, not an ending: it sits in the outcome column (the chain,
 * filters and exports need no second column), but it is not in OUTCOMES, no report counts it, and only
 * `appendIntent` writes it. An intent left without an outcome by a dead broker is closed at start-up with
 * an "interrupted" outcome that says what recovery found.
 */
export const INTENT = "intent";
export const RecordOutcomeSchema = z.enum([INTENT, ...OUTCOMES]).describe("how the request ended, or intent: it started work");
export type RecordOutcome = z.infer<typeof RecordOutcomeSchema>;

/** Whether a record is an outcome (one per request) rather than an intent. */
export function isOutcome(outcome: RecordOutcome): outcome is Outcome {
  return outcome !== INTENT;
}

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
  interrupted: "failed",
  forwarded: "other",
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
  buildTools: z.array(z.string()).optional().describe("the build tools the sandbox was allowed to fetch for this run's sdists"),
  log: z.string().optional().describe("the last lines of pip's output when the build failed (bounded)"),
  metadataFiles: z.number().optional().describe("PEP 658 metadata files pip resolved from instead of whole wheels"),
  containerId: z.string().optional().describe("the engine's id of the container that ran (never the same for two requests)"),
  pooled: z.boolean().optional().describe("the container came from the warm pool (sandbox.pool), created before the request"),
  timings: z
    .object({
      createMs: z.number(),
      startMs: z.number(),
      bootMs: z.number().optional(),
      pipMs: z.number().optional(),
      exitMs: z.number(),
      readMs: z.number(),
      teardownMs: z.number(),
    })
    .optional()
    .describe("where the run's time went: create, start (or hand-over), boot to the driver's first event, pip, exit, reading back, removal"),
  verifyMs: z.number().optional().describe("reading the handed-back output and verifying it, after the container"),
});

/** A broker process, identified against pid reuse the way the environment lock identifies its owner. */
export const BrokerProcessSchema = z.object({
  pid: z.number().int().positive(),
  start: z.string().nullable().describe("the process's start time in clock ticks (Linux); null where unknown"),
  host: z.string(),
  id: z.string().optional().describe("the broker's id (its state directory's): in a fleet, only that broker closes the intent"),
});
export type BrokerProcess = z.infer<typeof BrokerProcessSchema>;

/**
 * What start-up recovery found for a request whose broker died: its unfinished commit was restored
 * ("rolled back"), its commit had finished (the venv holds the verified set), no commit had touched the
 * venv ("nothing to do"), or a restore failed (the backup is kept and retried at the next start).
 */
export const RECOVERY_FINDINGS = ["rolled back", "completed", "nothing to do", "not restored"] as const;
export const RecoveryFindingSchema = z.object({
  found: z.enum(RECOVERY_FINDINGS),
  journal: z.string().optional().describe("the commit journal entry recovery read"),
  detail: z.string().optional(),
});
export type RecoveryFinding = z.infer<typeof RecoveryFindingSchema>;

/** A call forwarded to the upstream server in gateway mode: how it went there, and how its arguments were kept. */
export const UpstreamCallSchema = z.object({
  durationMs: z.number().describe("how long the upstream took to answer"),
  isError: z.boolean().optional().describe("the upstream's own tool error flag"),
  arguments_sha256: z.string().describe("sha256 of the arguments' canonical JSON, whole, however much of them the record keeps"),
  arguments_bytes: z.number().describe("the size of that canonical JSON"),
  error: z.string().optional().describe("why the call got no answer (the upstream exited, timed out)"),
});

/**
 * Shadow mode (`mode: shadow` on an environment or a grant): the install went ahead, and this says what
 * enforcing would have done: every distribution the real policy refuses, with the rule that refuses it.
 */
export const ShadowSchema = z.object({
  mode: z.literal("shadow"),
  would_deny: z.boolean().describe("enforcing, the policy would have refused this install"),
  refusals: z
    .array(z.object({ name: z.string(), version: z.string().optional(), rules: z.array(z.string()), reason: z.string() }))
    .describe("each distribution the policy would have refused: the rules that fail and why"),
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
  broker: BrokerProcessSchema.optional().describe("intents: the broker doing the work, so recovery can tell it is still alive"),
  recovery: RecoveryFindingSchema.optional().describe("interrupted outcomes: what start-up recovery found"),
  upstream: UpstreamCallSchema.optional().describe("gateway mode: the forwarded call's upstream side"),
  shadow: ShadowSchema.optional().describe("shadow mode: what enforcing the policy would have done"),
  provenance: z
    .object({
      recorded: z.array(z.object({ project: z.string(), publisher: z.string() })).optional(),
      repinned: z
        .array(z.object({ project: z.string(), from: z.string(), to: z.string(), approval: z.string().describe("the approval that accepted the change") }))
        .optional()
        .describe("rules.provenance_change: approval: the records this approved install moved from one publisher to another"),
    })
    .optional()
    .describe("rules.provenance: the Trusted Publishers this install recorded as the projects' first, and the records it moved"),
});
export type AuditBody = z.infer<typeof AuditBodySchema>;

/** What a caller hands to the log: one outcome per request, whatever it is. */
export const AuditInputSchema = AuditBodySchema.extend({
  identity: z.string().min(1).describe("who asked: the stdio identity or the HTTP grant"),
  tool: z.string().min(1).describe("the MCP tool or CLI command that was called"),
  environment: z.string().optional().describe("the target environment's name"),
  package: z.string().optional().describe("the normalised (PEP 503) package name"),
  outcome: OutcomeSchema,
});
export type AuditInput = z.infer<typeof AuditInputSchema>;

/** What a request appends before its work starts; the store adds the intent marker. */
export const IntentInputSchema = AuditInputSchema.omit({ outcome: true }).extend({
  request: z
    .object({ requestId: z.string().min(1) })
    .loose()
    .describe("the request, with the id its outcome will name"),
  broker: BrokerProcessSchema,
});
export type IntentInput = z.infer<typeof IntentInputSchema>;

/** A stored record: the input plus its place in the chain. */
export const AuditRecordSchema = AuditInputSchema.extend({
  outcome: RecordOutcomeSchema,
  seq: z.number().int().positive().describe("position in the chain, from 1, without gaps"),
  id: z.string().describe("sortable unique id, aud_ + time + randomness"),
  time: z.string().describe("when the record was appended, ISO 8601 UTC"),
  prevHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("the previous record's hash; 64 zeros for the first"),
  hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("sha256 over the record's canonical form"),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;
/** A record that ends a request (not an intent): what reports count. */
export type OutcomeRecord = AuditRecord & { outcome: Outcome };

/** Which records a query returns; every field narrows, none given means all. */
export interface AuditFilter {
  since?: Date | string;
  until?: Date | string;
  identity?: string;
  environment?: string;
  package?: string;
  /** Given, it decides alone, and may name "intent"; not given, intents are left out unless `intents`. */
  outcome?: RecordOutcome | RecordOutcome[];
  /** Also return intent records; by default a query returns outcomes, one per request. */
  intents?: boolean;
  tool?: string;
  limit?: number;
  order?: "asc" | "desc";
}

export type TamperKind = "edited" | "deleted" | "reordered" | "inserted";

/** The chain check's answer: intact with its head, or the first record that breaks it and how. */
export type VerifyResult =
  { ok: true; count: number; head: string } | { ok: false; count: number; firstBad: { seq: number; id: string; problem: TamperKind; detail: string } };

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
  "broker",
  "recovery",
  "upstream",
  "shadow",
  "prevHash",
  "hash",
] as const satisfies ReadonlyArray<keyof AuditRecord>;

/** One key order everywhere (store, export, import), so a record serialises the same way each time. */
export function orderRecordKeys(record: AuditRecord): AuditRecord {
  const ordered: Record<string, unknown> = {};
  for (const key of RECORD_KEY_ORDER) if (record[key] !== undefined) ordered[key] = record[key];
  return ordered as AuditRecord;
}
