import { toApproval, type ApprovalStore } from "../../approvals/store.js";
import type { PgPool } from "./pool.js";

/** Every column, the JSONB ones as the text the row schema parses (the SQLite store keeps that text). */
const COLUMNS =
  "id, created_at, expires_at, identity, environment, package, request::text AS request, why, state, decided_by, decided_at, decision_reason, result::text AS result, audit_id, owner";

/**
 * The install approval queue over PostgreSQL: one queue every broker of the fleet sees. The same
 * state machine as the SQLite store; each transition is one `UPDATE … WHERE id = $1 AND state = $from`,
 * so of two brokers (or two approvers) only one moves a request, and the other learns it lost.
 */
export function createPgApprovalStore(pool: PgPool): ApprovalStore {
  const get = async (id: string) => {
    const [row] = await pool.query(`SELECT ${COLUMNS} FROM approvals WHERE id = $1`, [id]);
    return row === undefined ? undefined : toApproval(row);
  };
  return {
    async create(input) {
      await pool.query(
        `INSERT INTO approvals (id, created_at, expires_at, identity, environment, package, request, why, state, audit_id, owner)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, 'pending', $9, $10)`,
        [
          input.id,
          input.createdAt.getTime(),
          input.expiresAt.getTime(),
          input.identity,
          input.environment,
          input.package,
          JSON.stringify(input.request),
          input.request.reason,
          input.auditId,
          input.owner ?? null,
        ],
      );
      const created = await get(input.id);
      if (created === undefined) throw new Error(`approval ${input.id} vanished after insert`);
      return created;
    },
    get,
    async list(states) {
      const rows = (await pool.query(`SELECT ${COLUMNS} FROM approvals ORDER BY created_at, id`)).map(toApproval);
      return states === undefined ? rows : rows.filter((row) => states.includes(row.state));
    },
    async transition(id, from, to, fields = {}) {
      const changed = await pool.query(
        `UPDATE approvals SET state = $3,
           decided_by = coalesce($4, decided_by), decided_at = coalesce($5, decided_at),
           decision_reason = coalesce($6, decision_reason), result = coalesce($7::jsonb, result)
         WHERE id = $1 AND state = $2 RETURNING id`,
        [
          id,
          from,
          to,
          fields.by ?? null,
          fields.at?.getTime() ?? null,
          fields.reason ?? null,
          fields.result === undefined ? null : JSON.stringify(fields.result),
        ],
      );
      return changed.length === 1;
    },
    async due(now) {
      return (await pool.query(`SELECT ${COLUMNS} FROM approvals WHERE state = 'pending' AND expires_at <= $1 ORDER BY created_at`, [now.getTime()])).map(
        toApproval,
      );
    },
    async scheduledFor(owner) {
      return (await pool.query(`SELECT ${COLUMNS} FROM approvals WHERE state = 'scheduled' AND owner = $1 ORDER BY decided_at, id`, [owner])).map(toApproval);
    },
  };
}
