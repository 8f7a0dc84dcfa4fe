import { PipgateError } from "../../errors.js";
import { verifyChain, type StoredRow } from "../../audit/chain.js";
import { groupCommit } from "../../audit/group-commit.js";
import { newAuditRow, requestIdOf } from "../../audit/new-row.js";
import { filterToSql } from "../../audit/query.js";
import { checkInput, toRecord, type AuditLog, type AuditLookup } from "../../audit/store.js";
import { INTENT, IntentInputSchema, type AuditFilter, type AuditInput, type RecordOutcome } from "../../audit/types.js";
import type { PgPool, TxQuery } from "./pool.js";

/** The lock every append takes: one chain, one writer at a time, whichever broker it is. */
export const AUDIT_LOCK = "pipgate:audit";

/** How many rows `iterate` and `verify` read at a time. */
const PAGE = 500;

const COLUMNS = "seq, id, time, identity, tool, environment, package, outcome, body, prev_hash, hash";

/** `?` placeholders (audit/query.ts writes SQLite's) as PostgreSQL's `$1, $2, …`, from `first`. */
function numbered(sql: string, first = 1): string {
  let n = first - 1;
  return sql.replace(/\?/g, () => `$${(n += 1)}`);
}

/**
 * The audit log over PostgreSQL: the same chain as the SQLite store (the same row builder and hash,
 * audit/new-row.ts), so `pipgate audit verify` and exports read alike whichever broker wrote a record.
 * Appends are serialised in the database: a transaction takes the audit advisory lock, reads the head
 * and inserts seq + 1 chained to it; UNIQUE(seq) and UNIQUE(prev_hash) refuse a second record on the
 * same predecessor even if the lock were bypassed. A broker killed mid-append leaves no half record:
 * the server rolls back the transaction of a connection that went away.
 */
export function createPgAuditLog(pool: PgPool, opts: { now?: () => Date } = {}): AuditLog {
  const now = opts.now ?? (() => new Date());

  async function appendIn(q: TxQuery, input: Omit<AuditInput, "outcome"> & { outcome: RecordOutcome }): Promise<StoredRow> {
    const [head] = await q<{ seq: number; hash: string }>("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    const row = newAuditRow(input, head, now());
    await q(`INSERT INTO audit (${COLUMNS}, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
      row.seq,
      row.id,
      row.time,
      row.identity,
      row.tool,
      row.environment,
      row.package,
      row.outcome,
      row.body,
      row.prev_hash,
      row.hash,
      requestIdOf(input),
    ]);
    return row;
  }

  function select(filter: AuditFilter, beyond?: number): { sql: string; params: Array<string | number> } {
    const where = filterToSql(filter, now());
    if (!where.ok) throw new PipgateError("audit-filter", where.error);
    let sql = where.value.sql;
    const params = [...where.value.params];
    if (beyond !== undefined) {
      const clause = filter.order === "desc" ? "seq < ?" : "seq > ?";
      sql = sql === "" ? `WHERE ${clause}` : `${sql} AND ${clause}`;
      params.push(beyond);
    }
    sql = `SELECT ${COLUMNS} FROM audit ${sql} ORDER BY seq ${filter.order === "desc" ? "DESC" : "ASC"}`;
    if (filter.limit !== undefined) {
      sql += " LIMIT ?";
      params.push(Math.max(0, Math.floor(filter.limit)));
    }
    return { sql: numbered(sql), params };
  }

  const outcomeOfSql = `SELECT ${COLUMNS} FROM audit WHERE request_id = $1 AND outcome <> $2 ORDER BY seq LIMIT 1`;

  async function lookup(idOrPrefix: string): Promise<AuditLookup> {
    const [exact] = await pool.query<StoredRow>(`SELECT ${COLUMNS} FROM audit WHERE id = $1`, [idOrPrefix]);
    if (exact !== undefined) return { ok: true, record: toRecord(exact) };
    const prefix = idOrPrefix.startsWith("aud_") ? idOrPrefix : `aud_${idOrPrefix}`;
    if (prefix.length <= 4) return { ok: false, reason: "not-found" };
    const rows = await pool.query<StoredRow>(`SELECT ${COLUMNS} FROM audit WHERE starts_with(id, $1) ORDER BY seq LIMIT 6`, [prefix]);
    const first = rows[0];
    if (first === undefined) return { ok: false, reason: "not-found" };
    if (rows.length > 1) return { ok: false, reason: "ambiguous", matches: rows.map((r) => r.id) };
    return { ok: true, record: toRecord(first) };
  }

  // Group commit (audit/group-commit.ts): the appends of one event-loop turn take the lock once, in one transaction.
  const appendGrouped = groupCommit(
    (inputs: readonly AuditInput[]) =>
      pool.tx(
        async (q) => {
          const rows: StoredRow[] = [];
          for (const input of inputs) rows.push(await appendIn(q, input));
          return rows;
        },
        { locks: [AUDIT_LOCK] },
      ),
    (input: AuditInput) => pool.tx((q) => appendIn(q, input), { locks: [AUDIT_LOCK] }),
  );

  return {
    async append(input) {
      checkInput(input);
      return toRecord(await appendGrouped(input));
    },
    async appendIntent(input) {
      const parsed = IntentInputSchema.safeParse(input);
      if (!parsed.success) {
        throw new PipgateError("audit-invalid", `invalid intent record: ${parsed.error.message}`, { cause: parsed.error });
      }
      // The one record the work depends on: its commit waits for the server's WAL flush whatever the server's default.
      return toRecord(await pool.tx((q) => appendIn(q, { ...input, outcome: INTENT }), { locks: [AUDIT_LOCK], syncCommit: true }));
    },
    async appendOutcomeOnce(requestId, input) {
      checkInput(input);
      const row = await pool.tx(async (q) => ((await q(outcomeOfSql, [requestId, INTENT])).length === 0 ? appendIn(q, input) : undefined), {
        locks: [AUDIT_LOCK],
      });
      return row === undefined ? undefined : toRecord(row);
    },
    async outcomeOf(requestId) {
      const [row] = await pool.query<StoredRow>(outcomeOfSql, [requestId, INTENT]);
      return row === undefined ? undefined : toRecord(row);
    },
    async openIntents() {
      const rows = await pool.query<StoredRow>(
        `SELECT ${COLUMNS.split(", ")
          .map((c) => `i.${c}`)
          .join(", ")} FROM audit AS i WHERE i.outcome = $1 AND NOT EXISTS (
           SELECT 1 FROM audit AS o WHERE o.request_id = i.request_id AND o.outcome <> $1
         ) ORDER BY i.seq`,
        [INTENT],
      );
      return rows.map(toRecord);
    },
    async get(idOrPrefix) {
      const found = await lookup(idOrPrefix);
      return found.ok ? found.record : undefined;
    },
    lookup,
    async list(filter = {}) {
      const { sql, params } = select(filter);
      return (await pool.query<StoredRow>(sql, params)).map(toRecord);
    },
    async *iterate(filter = {}) {
      let left = filter.limit === undefined ? Infinity : Math.max(0, Math.floor(filter.limit));
      let beyond: number | undefined;
      while (left > 0) {
        const { sql, params } = select({ ...filter, limit: Math.min(left, PAGE) }, beyond);
        const rows = await pool.query<StoredRow>(sql, params);
        for (const row of rows) yield toRecord(row);
        const last = rows[rows.length - 1];
        if (last === undefined || rows.length < PAGE) return;
        left -= rows.length;
        beyond = last.seq;
      }
    },
    async after(seq, filter = {}) {
      const { sql, params } = select({ ...filter, order: "asc" }, seq);
      return (await pool.query<StoredRow>(sql, params)).map(toRecord);
    },
    async verify() {
      // One snapshot (repeatable read), read in pages: appends by other brokers meanwhile are not seen half.
      const rows = await pool.tx(
        async (q) => {
          const all: StoredRow[] = [];
          for (let beyond = Number.MIN_SAFE_INTEGER; ;) {
            const page = await q<StoredRow>(`SELECT ${COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`, [beyond]);
            all.push(...page);
            const last = page[page.length - 1];
            if (last === undefined || page.length < PAGE) return all;
            beyond = last.seq;
          }
        },
        { isolation: "repeatable read", readOnly: true },
      );
      return verifyChain(rows, () => rows);
    },
    async count(filter = {}) {
      const where = filterToSql(filter, now());
      if (!where.ok) throw new PipgateError("audit-filter", where.error);
      const [row] = await pool.query<{ n: number }>(`SELECT count(*) AS n FROM audit ${numbered(where.value.sql)}`, where.value.params);
      return row?.n ?? 0;
    },
    async seqOfHash(hash) {
      const [row] = await pool.query<{ seq: number }>("SELECT seq FROM audit WHERE hash = $1", [hash]);
      return row?.seq;
    },
  };
}
