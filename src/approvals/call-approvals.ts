import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import type { CallApprovalState, CallApprovals, HeldCall } from "../ratelimit/admission.js";
import type { Db } from "../state/db.js";

/**
 * Approvals of single tool calls the policy holds (a tool's `action: approval`, or a condition whose
 * action is approval). Unlike install approvals (store.ts), approving runs nothing: it lets the SAME
 * identity make the SAME call — tool and sha256 of the canonical JSON of its arguments — once, before
 * the request expires. A denial stands for the same call until then. A sibling table of `approvals`
 * rather than more columns on it: the install queue's rows carry an environment, a package and a
 * pipeline outcome that a tool call does not have.
 */

export const CALL_APPROVAL_STATES = ["pending", "approved", "denied", "used", "expired"] as const;
export type CallApprovalRowState = (typeof CALL_APPROVAL_STATES)[number];

/** How much of a held call's arguments is kept for the approver to read (the hash covers all of them). */
export const ARGUMENTS_KEPT_MAX = 64 * 1024;

const RowSchema = z.object({
  id: z.string(),
  created_at: z.number(),
  expires_at: z.number(),
  identity: z.string(),
  tool: z.string(),
  args_sha256: z.string(),
  arguments: z.string(),
  arguments_truncated: z.number(),
  rule: z.string(),
  message: z.string(),
  state: z.enum(CALL_APPROVAL_STATES),
  decided_by: z.string().nullable(),
  decided_at: z.number().nullable(),
  decision_reason: z.string().nullable(),
  used_at: z.number().nullable(),
});

/** One held call as the CLI shows it. `state` reads "expired" for a pending or approved request past its time. */
export interface CallApproval {
  id: string;
  createdAt: Date;
  expiresAt: Date;
  identity: string;
  tool: string;
  argsSha256: string;
  /** the canonical JSON of the arguments, cut at ARGUMENTS_KEPT_MAX */
  arguments: string;
  argumentsTruncated: boolean;
  rule: string;
  message: string;
  state: CallApprovalRowState;
  decidedBy: string | undefined;
  decidedAt: Date | undefined;
  decisionReason: string | undefined;
  usedAt: Date | undefined;
}

export type CallDecision = { ok: true; approval: CallApproval } | { ok: false; error: string };

export interface CallApprovalStore extends CallApprovals {
  get(id: string, now: Date): Promise<CallApproval | undefined>;
  list(now: Date, states?: readonly CallApprovalRowState[]): Promise<CallApproval[]>;
  /** A person's decision on a pending, unexpired request; compare-and-set, so two approvers cannot both decide. */
  decide(id: string, decision: "approved" | "denied", by: string, reason: string, now: Date): Promise<CallDecision>;
}

export interface CallApprovalOptions {
  /** The canonical JSON the hash is taken over (audit/canonical-json.ts; passed in: audit sits above this stage). */
  canonical: (value: unknown) => string;
  /** How long a request stays open, and an approval usable. */
  expiresAfterMs: number;
}

/** Held-call ids are told apart from install approvals (apr_) by their prefix: apc_ and 10 base32 characters. */
export function newCallApprovalId(): string {
  const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  return `apc_${[...randomBytes(10)].map((byte) => alphabet[byte % alphabet.length]).join("")}`;
}

export function isCallApprovalId(id: string): boolean {
  return id.startsWith("apc_");
}

export function createCallApprovalStore(db: Db, options: CallApprovalOptions): CallApprovalStore {
  const latest = db.prepare<[string, string, string, number], unknown>(
    `SELECT * FROM call_approvals WHERE identity = ? AND tool = ? AND args_sha256 = ? AND expires_at > ?
       AND state IN ('pending', 'approved', 'denied') ORDER BY created_at DESC, rowid DESC LIMIT 1`,
  );
  const insert = db.prepare(
    `INSERT INTO call_approvals (id, created_at, expires_at, identity, tool, args_sha256, arguments, arguments_truncated, rule, message, state)
     VALUES (@id, @created_at, @expires_at, @identity, @tool, @args_sha256, @arguments, @arguments_truncated, @rule, @message, 'pending')`,
  );
  const byId = db.prepare<[string], unknown>("SELECT * FROM call_approvals WHERE id = ?");
  const all = db.prepare<[], unknown>("SELECT * FROM call_approvals ORDER BY created_at, id");
  const use = db.prepare<[number, string, number]>(
    "UPDATE call_approvals SET state = 'used', used_at = ? WHERE id = ? AND state = 'approved' AND expires_at > ?",
  );
  const decideStmt = db.prepare<[string, string, number, string, string, number]>(
    "UPDATE call_approvals SET state = ?, decided_by = ?, decided_at = ?, decision_reason = ? WHERE id = ? AND state = 'pending' AND expires_at > ?",
  );

  const lookup = db.transaction((call: HeldCall, now: Date): CallApprovalState => {
    const canonical = options.canonical(call.arguments);
    const sha = createHash("sha256").update(canonical).digest("hex");
    const row = latest.get(call.identity, call.tool, sha, now.getTime());
    if (row !== undefined) {
      const found = toApproval(row, now);
      if (found.state === "approved") return { state: "approved", id: found.id, expiresAt: found.expiresAt, by: found.decidedBy ?? "-" };
      if (found.state === "denied")
        return { state: "denied", id: found.id, by: found.decidedBy ?? "-", at: found.decidedAt ?? found.createdAt, reason: found.decisionReason };
      return { state: "pending", id: found.id, expiresAt: found.expiresAt };
    }
    const id = newCallApprovalId();
    const expiresAt = new Date(now.getTime() + options.expiresAfterMs);
    const truncated = canonical.length > ARGUMENTS_KEPT_MAX;
    insert.run({
      id,
      created_at: now.getTime(),
      expires_at: expiresAt.getTime(),
      identity: call.identity,
      tool: call.tool,
      args_sha256: sha,
      arguments: truncated ? canonical.slice(0, ARGUMENTS_KEPT_MAX) : canonical,
      arguments_truncated: truncated ? 1 : 0,
      rule: call.rule,
      message: call.message,
    });
    return { state: "pending", id, expiresAt };
  });

  // Async for the interface; each method's SQLite work (the lookup's transaction included) is one synchronous call.
  return {
    lookup: async (call, now) => lookup.immediate(call, now),
    consume: async (id, now) => use.run(now.getTime(), id, now.getTime()).changes === 1,
    async get(id, now) {
      const row = byId.get(id);
      return row === undefined ? undefined : toApproval(row, now);
    },
    async list(now, states) {
      const rows = all.all().map((row) => toApproval(row, now));
      return states === undefined ? rows : rows.filter((row) => states.includes(row.state));
    },
    async decide(id, decision, by, reason, now) {
      const before = byId.get(id);
      if (before === undefined) return { ok: false, error: `no approval request ${JSON.stringify(id)}` };
      const current = toApproval(before, now);
      if (current.state !== "pending") {
        const who = current.decidedBy === undefined ? "" : ` by ${current.decidedBy} at ${current.decidedAt?.toISOString() ?? "?"}`;
        return { ok: false, error: `approval request ${id} is ${current.state}${who}, not pending` };
      }
      if (decideStmt.run(decision, by, now.getTime(), reason, id, now.getTime()).changes !== 1) {
        return { ok: false, error: `approval request ${id} was decided by someone else meanwhile` };
      }
      const after = byId.get(id);
      return after === undefined ? { ok: false, error: `approval request ${id} vanished` } : { ok: true, approval: toApproval(after, now) };
    },
  };
}

function toApproval(raw: unknown, now: Date): CallApproval {
  const row = RowSchema.parse(raw);
  const lapsed = (row.state === "pending" || row.state === "approved") && row.expires_at <= now.getTime();
  return {
    id: row.id,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    identity: row.identity,
    tool: row.tool,
    argsSha256: row.args_sha256,
    arguments: row.arguments,
    argumentsTruncated: row.arguments_truncated !== 0,
    rule: row.rule,
    message: row.message,
    state: lapsed ? "expired" : row.state,
    decidedBy: row.decided_by ?? undefined,
    decidedAt: row.decided_at === null ? undefined : new Date(row.decided_at),
    decisionReason: row.decision_reason ?? undefined,
    usedAt: row.used_at === null ? undefined : new Date(row.used_at),
  };
}
