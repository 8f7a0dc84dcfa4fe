import type { Db } from "../state/db.js";
import { PipgateError } from "../errors.js";
import { verifyChain, type StoredRow } from "./chain.js";
import { AUDIT_BODY_KEYS, newAuditRow } from "./new-row.js";
import { groupCommit } from "./group-commit.js";
import { filterToSql } from "./query.js";
import {
  AuditBodySchema,
  AuditInputSchema,
  INTENT,
  IntentInputSchema,
  RecordOutcomeSchema,
  type AuditBody,
  type AuditFilter,
  type AuditInput,
  type AuditRecord,
  type IntentInput,
  type Outcome,
  type RecordOutcome,
  type VerifyResult,
} from "./types.js";

/** The answer to an id lookup: a prefix may match nothing, one record, or too many to choose. */
export type AuditLookup = { ok: true; record: AuditRecord } | { ok: false; reason: "not-found" } | { ok: false; reason: "ambiguous"; matches: string[] };

/** The append-only, hash-chained log every request ends in, over the shared state database. */
export interface AuditLog {
  /** Appends one record, chained to the current head, atomically even across processes. */
  append(input: AuditInput): Promise<AuditRecord>;
  /**
   * Appends a request's intent before its work starts, committed and synced to disk when it returns
   * (so a crash during the work cannot lose it); refuses to run inside an open transaction, where the
   * record would not be committed yet.
   */
  appendIntent(input: IntentInput): Promise<AuditRecord>;
  /**
   * Appends the outcome of `requestId` unless an outcome already names it, in one transaction: two
   * brokers recovering at once cannot both close the same request. Undefined when it was closed already.
   */
  appendOutcomeOnce(requestId: string, input: AuditInput): Promise<AuditRecord | undefined>;
  /** The outcome record that names this request id, if any. */
  outcomeOf(requestId: string): Promise<AuditRecord | undefined>;
  /** Intents no outcome names yet, oldest first: requests in flight, or left by a broker that died. */
  openIntents(): Promise<AuditRecord[]>;
  /** A record by full id or unique prefix (with or without `aud_`). */
  get(idOrPrefix: string): Promise<AuditRecord | undefined>;
  lookup(idOrPrefix: string): Promise<AuditLookup>;
  list(filter?: AuditFilter): Promise<AuditRecord[]>;
  /**
   * Like list, one record at a time, for exports larger than memory. Read in pages (ITERATE_PAGE rows
   * by seq), so no read stays open while the consumer awaits: the log can be appended to meanwhile.
   */
  iterate(filter?: AuditFilter): AsyncGenerator<AuditRecord>;
  /** Records appended after `seq`, oldest first: what `tail -f` polls for. */
  after(seq: number, filter?: AuditFilter): Promise<AuditRecord[]>;
  verify(): Promise<VerifyResult>;
  count(filter?: AuditFilter): Promise<number>;
  /** The seq of the record with this hash: checks a head noted earlier is still in the chain (truncation). */
  seqOfHash(hash: string): Promise<number | undefined>;
}

/** How many rows `iterate` reads at a time. */
export const ITERATE_PAGE = 500;

/**
 * The request id a record names (body.request.requestId), as SQL. Written exactly as the audit_request
 * index in state/db.ts is, so SQLite uses that index; json_valid keeps a tampered body from failing it.
 */
const REQUEST_ID = (table: string) => `(CASE WHEN json_valid(${table}.body) THEN json_extract(${table}.body, '$.request.requestId') END)`;

/**
 * Builds the log over a database that already has the `audit` table (openStateDb / openMemoryDb).
 * The clock is injectable so tests can write records across days.
 */
export function createAuditLog(db: Db, opts: { now?: () => Date } = {}): AuditLog {
  const now = opts.now ?? (() => new Date());
  const headStmt = db.prepare<[], { seq: number; hash: string }>("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
  const insertStmt = db.prepare(
    `INSERT INTO audit (seq, id, time, identity, tool, environment, package, outcome, body, prev_hash, hash)
     VALUES (@seq, @id, @time, @identity, @tool, @environment, @package, @outcome, @body, @prev_hash, @hash)`,
  );
  const byIdStmt = db.prepare<[string], StoredRow>("SELECT * FROM audit WHERE id = ?");
  const byPrefixStmt = db.prepare<[number, string], StoredRow>("SELECT * FROM audit WHERE substr(id, 1, ?) = ? ORDER BY seq LIMIT 6");

  const outcomeOfStmt = db.prepare<[string, string], StoredRow>(`SELECT * FROM audit WHERE ${REQUEST_ID("audit")} = ? AND outcome <> ? ORDER BY seq LIMIT 1`);
  const openIntentsStmt = db.prepare<[string, string], StoredRow>(
    `SELECT * FROM audit AS i WHERE i.outcome = ? AND NOT EXISTS (
       SELECT 1 FROM audit AS o WHERE ${REQUEST_ID("o")} = ${REQUEST_ID("i")} AND o.outcome <> ?
     ) ORDER BY i.seq`,
  );

  const appendTx = db.transaction((input: Omit<AuditInput, "outcome"> & { outcome: RecordOutcome }): StoredRow => {
    const row = newAuditRow(input, headStmt.get(), now());
    insertStmt.run(row);
    return row;
  });

  /** `beyond`: only records past this seq in the filter's order (after it ascending, before it descending). */
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
    sql = `SELECT * FROM audit ${sql} ORDER BY seq ${filter.order === "desc" ? "DESC" : "ASC"}`;
    if (filter.limit !== undefined) {
      sql += " LIMIT ?";
      params.push(Math.max(0, Math.floor(filter.limit)));
    }
    return { sql, params };
  }

  function lookup(idOrPrefix: string): AuditLookup {
    const exact = byIdStmt.get(idOrPrefix);
    if (exact !== undefined) return { ok: true, record: toRecord(exact) };
    const prefix = idOrPrefix.startsWith("aud_") ? idOrPrefix : `aud_${idOrPrefix}`;
    if (prefix.length <= 4) return { ok: false, reason: "not-found" };
    const rows = byPrefixStmt.all(prefix.length, prefix);
    const first = rows[0];
    if (first === undefined) return { ok: false, reason: "not-found" };
    if (rows.length > 1) return { ok: false, reason: "ambiguous", matches: rows.map((r) => r.id) };
    return { ok: true, record: toRecord(first) };
  }

  // Group commit (audit/group-commit.ts): the appends of one event-loop turn share a transaction.
  const appendAllTx = db.transaction((inputs: readonly AuditInput[]): StoredRow[] => inputs.map((input) => appendTx(input)));
  const appendGrouped = groupCommit(
    async (inputs: readonly AuditInput[]) => appendAllTx.immediate(inputs),
    async (input: AuditInput) => appendTx.immediate(input),
  );

  const appendOnceTx = db.transaction((requestId: string, input: AuditInput): StoredRow | undefined =>
    outcomeOfStmt.get(requestId, INTENT) === undefined ? appendTx(input) : undefined,
  );

  // Each method is async for the interface's sake (a networked store needs it) but runs its SQLite work,
  // transactions included, inside one synchronous call: no await ever splits a transaction. `append`
  // waits for the end of the event loop's turn, to share its transaction with the turn's other appends.
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
      if (db.inTransaction) {
        throw new PipgateError("audit-intent", "an intent must be committed before its work starts; it cannot be written inside an open transaction");
      }
      // WAL with synchronous=NORMAL survives a killed process but may lose the last commits on power
      // loss; an intent is the one record the work depends on, so its commit is synced (FULL).
      const previous = db.pragma("synchronous", { simple: true }) as number;
      db.pragma("synchronous = FULL");
      let row: StoredRow;
      try {
        row = appendTx.immediate({ ...input, outcome: INTENT });
      } finally {
        db.pragma(`synchronous = ${previous}`);
      }
      return toRecord(row);
    },
    async appendOutcomeOnce(requestId, input) {
      checkInput(input);
      const row = appendOnceTx.immediate(requestId, input);
      return row === undefined ? undefined : toRecord(row);
    },
    async outcomeOf(requestId) {
      const row = outcomeOfStmt.get(requestId, INTENT);
      return row === undefined ? undefined : toRecord(row);
    },
    async openIntents() {
      return openIntentsStmt.all(INTENT, INTENT).map(toRecord);
    },
    async get(idOrPrefix) {
      const found = lookup(idOrPrefix);
      return found.ok ? found.record : undefined;
    },
    lookup: async (idOrPrefix) => lookup(idOrPrefix),
    async list(filter = {}) {
      const { sql, params } = select(filter);
      return db
        .prepare<Array<string | number>, StoredRow>(sql)
        .all(...params)
        .map(toRecord);
    },
    async *iterate(filter = {}) {
      let left = filter.limit === undefined ? Infinity : Math.max(0, Math.floor(filter.limit));
      let beyond: number | undefined;
      while (left > 0) {
        const { sql, params } = select({ ...filter, limit: Math.min(left, ITERATE_PAGE) }, beyond);
        const rows = db.prepare<Array<string | number>, StoredRow>(sql).all(...params);
        for (const row of rows) yield toRecord(row);
        const last = rows[rows.length - 1];
        if (last === undefined || rows.length < ITERATE_PAGE) return;
        left -= rows.length;
        beyond = last.seq;
      }
    },
    async after(seq, filter = {}) {
      const { sql, params } = select({ ...filter, order: "asc" }, seq);
      return db
        .prepare<Array<string | number>, StoredRow>(sql)
        .all(...params)
        .map(toRecord);
    },
    async verify() {
      // Two statements: better-sqlite3 cannot run one statement again while iterating it.
      const walk = db.prepare<[], StoredRow>("SELECT * FROM audit ORDER BY seq");
      const all = db.prepare<[], StoredRow>("SELECT * FROM audit ORDER BY seq");
      return db.transaction(() => verifyChain(walk.iterate(), () => all.all()))();
    },
    async count(filter = {}) {
      const where = filterToSql(filter, now());
      if (!where.ok) throw new PipgateError("audit-filter", where.error);
      const row = db.prepare<Array<string | number>, { n: number }>(`SELECT count(*) AS n FROM audit ${where.value.sql}`).get(...where.value.params);
      return row?.n ?? 0;
    },
    async seqOfHash(hash) {
      return db.prepare<[string], { seq: number }>("SELECT seq FROM audit WHERE hash = ?").get(hash)?.seq;
    },
  };
}

/** Only the caller's record kinds: an intent goes through appendIntent, with its broker. */
export function checkInput(input: AuditInput): void {
  const parsed = AuditInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new PipgateError("audit-invalid", `invalid audit record: ${parsed.error.message}`, { cause: parsed.error });
  }
}

/**
 * A stored row read back as a record. The table is outside the process's control (that is what verify is
 * for), so the body goes through its schema; a body that no longer parses is shown, not hidden.
 */
export function toRecord(row: StoredRow): AuditRecord {
  let body: AuditBody;
  try {
    const parsed = AuditBodySchema.safeParse(JSON.parse(row.body));
    body = parsed.success ? parsed.data : { arguments: undefined, reason: `unreadable audit body: ${row.body}` };
  } catch {
    body = { arguments: undefined, reason: `unreadable audit body: ${row.body}` };
  }
  const outcome = RecordOutcomeSchema.safeParse(row.outcome);
  const record: Record<string, unknown> = {
    seq: row.seq,
    id: row.id,
    time: row.time,
    identity: row.identity,
    tool: row.tool,
    ...(row.environment === null ? {} : { environment: row.environment }),
    ...(row.package === null ? {} : { package: row.package }),
    outcome: outcome.success ? outcome.data : ("invalid" satisfies Outcome),
  };
  for (const key of AUDIT_BODY_KEYS) if (body[key] !== undefined) record[key] = body[key];
  record.prevHash = row.prev_hash;
  record.hash = row.hash;
  return record as AuditRecord;
}
