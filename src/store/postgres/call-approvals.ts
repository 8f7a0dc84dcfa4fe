import { createHash } from "node:crypto";
import { ARGUMENTS_KEPT_MAX, newCallApprovalId, toApproval, type CallApprovalOptions, type CallApprovalStore } from "../../approvals/call-approvals.js";
import type { CallApprovalState } from "../../ratelimit/admission.js";
import type { PgPool } from "./pool.js";

const COLUMNS =
  "id, created_at, expires_at, identity, tool, args_sha256, arguments, arguments_truncated, rule, message, state, decided_by, decided_at, decision_reason, used_at";

/**
 * Held tool calls over PostgreSQL, shared by the fleet: a call held on one broker is approved from any
 * and admitted once on whichever broker the agent repeats it. `lookup` finds-or-creates under the
 * advisory lock of (identity, tool, arguments), so two brokers holding the same call at once queue it
 * once; `consume` and `decide` are compare-and-set UPDATEs, so an approval admits exactly one call.
 */
export function createPgCallApprovalStore(pool: PgPool, options: CallApprovalOptions): CallApprovalStore {
  const byId = async (id: string) => (await pool.query(`SELECT ${COLUMNS} FROM call_approvals WHERE id = $1`, [id]))[0];
  return {
    async lookup(call, now): Promise<CallApprovalState> {
      const canonical = options.canonical(call.arguments);
      const sha = createHash("sha256").update(canonical).digest("hex");
      return pool.tx(
        async (q) => {
          const [row] = await q(
            `SELECT ${COLUMNS} FROM call_approvals WHERE identity = $1 AND tool = $2 AND args_sha256 = $3 AND expires_at > $4
               AND state IN ('pending', 'approved', 'denied') ORDER BY created_at DESC, seq DESC LIMIT 1`,
            [call.identity, call.tool, sha, now.getTime()],
          );
          if (row !== undefined) {
            const found = toApproval(row, now);
            if (found.state === "approved") return { state: "approved", id: found.id, expiresAt: found.expiresAt, by: found.decidedBy ?? "-" };
            if (found.state === "denied")
              return { state: "denied", id: found.id, by: found.decidedBy ?? "-", at: found.decidedAt ?? found.createdAt, reason: found.decisionReason };
            return { state: "pending", id: found.id, expiresAt: found.expiresAt };
          }
          const id = newCallApprovalId();
          const expiresAt = new Date(now.getTime() + call.expiresAfterMs);
          const truncated = canonical.length > ARGUMENTS_KEPT_MAX;
          await q(
            `INSERT INTO call_approvals (id, created_at, expires_at, identity, tool, args_sha256, arguments, arguments_truncated, rule, message, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending')`,
            [
              id,
              now.getTime(),
              expiresAt.getTime(),
              call.identity,
              call.tool,
              sha,
              truncated ? canonical.slice(0, ARGUMENTS_KEPT_MAX) : canonical,
              truncated ? 1 : 0,
              call.rule,
              call.message,
            ],
          );
          return { state: "pending", id, expiresAt };
        },
        { locks: [`pipgate:call:${call.identity}|${call.tool}|${sha}`] },
      );
    },
    async consume(id, now) {
      const used = await pool.query(
        "UPDATE call_approvals SET state = 'used', used_at = $1 WHERE id = $2 AND state = 'approved' AND expires_at > $1 RETURNING id",
        [now.getTime(), id],
      );
      return used.length === 1;
    },
    async get(id, now) {
      const row = await byId(id);
      return row === undefined ? undefined : toApproval(row, now);
    },
    async list(now, states) {
      const rows = (await pool.query(`SELECT ${COLUMNS} FROM call_approvals ORDER BY created_at, id`)).map((row) => toApproval(row, now));
      return states === undefined ? rows : rows.filter((row) => states.includes(row.state));
    },
    async decide(id, decision, by, reason, now) {
      const before = await byId(id);
      if (before === undefined) return { ok: false, error: `no approval request ${JSON.stringify(id)}` };
      const current = toApproval(before, now);
      if (current.state !== "pending") {
        const who = current.decidedBy === undefined ? "" : ` by ${current.decidedBy} at ${current.decidedAt?.toISOString() ?? "?"}`;
        return { ok: false, error: `approval request ${id} is ${current.state}${who}, not pending` };
      }
      const [after] = await pool.query(
        `UPDATE call_approvals SET state = $1, decided_by = $2, decided_at = $3, decision_reason = $4
         WHERE id = $5 AND state = 'pending' AND expires_at > $3 RETURNING ${COLUMNS}`,
        [decision, by, now.getTime(), reason, id],
      );
      if (after === undefined) return { ok: false, error: `approval request ${id} was decided by someone else meanwhile` };
      return { ok: true, approval: toApproval(after, now) };
    },
  };
}
