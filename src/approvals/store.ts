import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Db } from "../state/db.js";
import { SetDistSchema } from "./resolved-set.js";

export const APPROVAL_STATES = [
  "pending",
  "scheduled",
  "approved",
  "installed",
  "already-satisfied",
  "denied",
  "failed",
  "timed-out",
  "rejected",
  "expired",
  "superseded",
] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** Why a request was queued: decides what approving it lets through (see overlay.ts). */
export const QueueReasonSchema = z.enum(["unlisted", "sdist", "new-project", "provenance"]);
export type QueueReason = z.infer<typeof QueueReasonSchema>;

/** A row of the `approvals` table, read back through a schema: the database is outside the process's control. */
export const ApprovalRowSchema = z.object({
  id: z.string(),
  created_at: z.number(),
  expires_at: z.number(),
  identity: z.string(),
  environment: z.string(),
  package: z.string(),
  request: z.string(),
  why: z.string(),
  state: z.enum(APPROVAL_STATES),
  decided_by: z.string().nullable(),
  decided_at: z.number().nullable(),
  decision_reason: z.string().nullable(),
  result: z.string().nullable(),
  audit_id: z.string(),
  owner: z.string().nullable().optional(),
});

/**
 * What was asked: the raw tool arguments (validated again before they run), why they wait, and the
 * resolved set the approval is for. A request queued before sets were bound has no `set`; approving
 * it refuses to run (fail closed) and the agent asks again.
 */
export const QueuedRequestSchema = z.object({
  arguments: z.unknown().describe("the install_package arguments as the agent sent them"),
  requirement: z.string().describe("the requirement as pipgate understood it"),
  reason: QueueReasonSchema,
  detail: z.string().describe("one line for the approver: what policy said"),
  set: z.array(SetDistSchema).optional().describe("every distribution the approved install may install, and nothing else"),
  supersedes: z.string().optional().describe("the approval whose set changed before it ran, which this one replaces"),
});
export type QueuedRequest = z.infer<typeof QueuedRequestSchema>;

/** What became of an approved request: the pipeline's outcome in short. */
export const ApprovalResultSchema = z.object({
  status: z.string(),
  message: z.string(),
  version: z.string().optional(),
  installed: z.array(z.object({ name: z.string(), version: z.string() })).default([]),
  audit_id: z.string(),
  ran_on: z.string().optional().describe("the broker that ran the install: the one that queued the request"),
  superseded_by: z.string().optional().describe("superseded: the new approval request for the set as it resolves now"),
});
export type ApprovalResult = z.infer<typeof ApprovalResultSchema>;

/** One approval request as the rest of pipgate sees it. */
export interface Approval {
  id: string;
  createdAt: Date;
  expiresAt: Date;
  identity: string;
  environment: string;
  package: string;
  request: QueuedRequest;
  state: ApprovalState;
  decidedBy: string | undefined;
  decidedAt: Date | undefined;
  decisionReason: string | undefined;
  result: ApprovalResult | undefined;
  /** the audit record of the request that was queued */
  auditId: string;
  /**
   * The broker that queued it (state/broker-id.ts): the approved install runs there, whoever approves it.
   * Approved elsewhere, the request is `scheduled` until that broker takes it (`approved`) and runs it.
   */
  owner: string | undefined;
}

export interface NewApproval {
  id: string;
  identity: string;
  environment: string;
  package: string;
  request: QueuedRequest;
  auditId: string;
  createdAt: Date;
  expiresAt: Date;
  owner?: string;
}

/** The queue over the state database; every state change is a compare-and-set on the current state. */
export interface ApprovalStore {
  create(input: NewApproval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  list(states?: readonly ApprovalState[]): Promise<Approval[]>;
  /** Moves a request from `from` to `to`; false when another process got there first. */
  transition(
    id: string,
    from: ApprovalState,
    to: ApprovalState,
    fields?: { by?: string; at?: Date; reason?: string; result?: ApprovalResult },
  ): Promise<boolean>;
  /** Pending requests whose time ran out at `now`. */
  due(now: Date): Promise<Approval[]>;
  /** Requests approved on another broker and waiting for `owner`, their broker, to run them; oldest first. */
  scheduledFor(owner: string): Promise<Approval[]>;
}

/** A short id an approver can type: apr_ and 10 base32 characters. */
export function newApprovalId(): string {
  const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  return `apr_${[...randomBytes(10)].map((byte) => alphabet[byte % alphabet.length]).join("")}`;
}

export function createApprovalStore(db: Db): ApprovalStore {
  const insert = db.prepare(
    `INSERT INTO approvals (id, created_at, expires_at, identity, environment, package, request, why, state, audit_id, owner)
     VALUES (@id, @created_at, @expires_at, @identity, @environment, @package, @request, @why, 'pending', @audit_id, @owner)`,
  );
  const byId = db.prepare<[string], unknown>("SELECT * FROM approvals WHERE id = ?");
  const all = db.prepare<[], unknown>("SELECT * FROM approvals ORDER BY created_at, id");
  const dueStmt = db.prepare<[number], unknown>("SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= ? ORDER BY created_at");
  const scheduledStmt = db.prepare<[string], unknown>("SELECT * FROM approvals WHERE state = 'scheduled' AND owner = ? ORDER BY decided_at, id");
  const update = db.prepare(
    `UPDATE approvals SET state = @to,
       decided_by = coalesce(@by, decided_by), decided_at = coalesce(@at, decided_at),
       decision_reason = coalesce(@reason, decision_reason), result = coalesce(@result, result)
     WHERE id = @id AND state = @from`,
  );

  const get = (id: string): Approval | undefined => {
    const row = byId.get(id);
    return row === undefined ? undefined : toApproval(row);
  };

  // Async for the interface; each method's SQLite work is one synchronous call.
  return {
    async create(input) {
      const id = input.id;
      insert.run({
        id,
        created_at: input.createdAt.getTime(),
        expires_at: input.expiresAt.getTime(),
        identity: input.identity,
        environment: input.environment,
        package: input.package,
        request: JSON.stringify(input.request),
        why: input.request.reason,
        audit_id: input.auditId,
        owner: input.owner ?? null,
      });
      const created = get(id);
      if (created === undefined) throw new Error(`approval ${id} vanished after insert`);
      return created;
    },
    get: async (id) => get(id),
    async list(states) {
      const rows = all.all().map(toApproval);
      return states === undefined ? rows : rows.filter((row) => states.includes(row.state));
    },
    async transition(id, from, to, fields = {}) {
      const changed = update.run({
        id,
        from,
        to,
        by: fields.by ?? null,
        at: fields.at?.getTime() ?? null,
        reason: fields.reason ?? null,
        result: fields.result === undefined ? null : JSON.stringify(fields.result),
      });
      return changed.changes === 1;
    },
    async due(now) {
      return dueStmt.all(now.getTime()).map(toApproval);
    },
    async scheduledFor(owner) {
      return scheduledStmt.all(owner).map(toApproval);
    },
  };
}

export function toApproval(raw: unknown): Approval {
  const row = ApprovalRowSchema.parse(raw);
  const request = QueuedRequestSchema.parse(JSON.parse(row.request));
  const result = row.result === null ? undefined : ApprovalResultSchema.safeParse(JSON.parse(row.result));
  return {
    id: row.id,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    identity: row.identity,
    environment: row.environment,
    package: row.package,
    request,
    state: row.state,
    decidedBy: row.decided_by ?? undefined,
    decidedAt: row.decided_at === null ? undefined : new Date(row.decided_at),
    decisionReason: row.decision_reason ?? undefined,
    result: result?.success === true ? result.data : undefined,
    auditId: row.audit_id,
    owner: row.owner ?? undefined,
  };
}
