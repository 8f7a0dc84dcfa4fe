import type { Db } from "../state/db.js";
import { PipgateError } from "../errors.js";
import { canonicalJson } from "./canonical-json.js";
import { recordHash, verifyChain, type StoredRow } from "./chain.js";
import { newAuditId } from "./id.js";
import { normalizeName } from "../requirement/name.js";
import { filterToSql } from "./query.js";
import {
  AuditBodySchema,
  AuditInputSchema,
  GENESIS_HASH,
  type AuditBody,
  type AuditFilter,
  type AuditInput,
  type AuditRecord,
  type Outcome,
  OutcomeSchema,
  type VerifyResult,
} from "./types.js";

/** The answer to an id lookup: a prefix may match nothing, one record, or too many to choose. */
export type AuditLookup =
  | { ok: true; record: AuditRecord }
  | { ok: false; reason: "not-found" }
  | { ok: false; reason: "ambiguous"; matches: string[] };

/** The append-only, hash-chained log every request ends in, over the shared state database. */
export interface AuditLog {
  /** Appends one record, chained to the current head, atomically even across processes. */
  append(input: AuditInput): AuditRecord;
  /** A record by full id or unique prefix (with or without `aud_`). */
  get(idOrPrefix: string): AuditRecord | undefined;
  lookup(idOrPrefix: string): AuditLookup;
  list(filter?: AuditFilter): AuditRecord[];
  /** Like list, one record at a time, for exports larger than memory. */
  iterate(filter?: AuditFilter): Generator<AuditRecord>;
  /** Records appended after `seq`, oldest first: what `tail -f` polls for. */
  after(seq: number, filter?: AuditFilter): AuditRecord[];
  verify(): VerifyResult;
  count(filter?: AuditFilter): number;
  /** The seq of the record with this hash: checks a head noted earlier is still in the chain (truncation). */
  seqOfHash(hash: string): number | undefined;
}

const BODY_KEYS = [
  "arguments",
  "reason",
  "request",
  "decision",
  "resolved",
  "sandbox",
  "commit",
  "approval",
  "durationMs",
] as const satisfies ReadonlyArray<keyof AuditBody>;

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
  const byPrefixStmt = db.prepare<[number, string], StoredRow>(
    "SELECT * FROM audit WHERE substr(id, 1, ?) = ? ORDER BY seq LIMIT 6",
  );

  const appendTx = db.transaction((input: AuditInput): StoredRow => {
    const head = headStmt.get();
    const time = now();
    const { identity, tool, environment, package: pkg, outcome } = input;
    const body: Record<string, unknown> = {};
    for (const key of BODY_KEYS) if (input[key] !== undefined) body[key] = input[key];
    const unhashed = {
      seq: (head?.seq ?? 0) + 1,
      id: newAuditId(time),
      time: time.toISOString(),
      identity,
      tool,
      environment: environment ?? null,
      package: pkg === undefined ? null : normalizeName(pkg),
      outcome,
      body: canonicalJson(body),
      prev_hash: head?.hash ?? GENESIS_HASH,
    };
    const row: StoredRow = { ...unhashed, hash: recordHash(unhashed) };
    insertStmt.run(row);
    return row;
  });

  function select(filter: AuditFilter, extra?: { afterSeq: number }): { sql: string; params: Array<string | number> } {
    const where = filterToSql(filter, now());
    if (!where.ok) throw new PipgateError("audit-filter", where.error);
    let sql = where.value.sql;
    const params = [...where.value.params];
    if (extra !== undefined) {
      sql = sql === "" ? "WHERE seq > ?" : `${sql} AND seq > ?`;
      params.push(extra.afterSeq);
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

  return {
    append(input) {
      const parsed = AuditInputSchema.safeParse(input);
      if (!parsed.success) {
        throw new PipgateError("audit-invalid", `invalid audit record: ${parsed.error.message}`, { cause: parsed.error });
      }
      return toRecord(appendTx.immediate(input));
    },
    get(idOrPrefix) {
      const found = lookup(idOrPrefix);
      return found.ok ? found.record : undefined;
    },
    lookup,
    list(filter = {}) {
      const { sql, params } = select(filter);
      return db.prepare<Array<string | number>, StoredRow>(sql).all(...params).map(toRecord);
    },
    *iterate(filter = {}) {
      const { sql, params } = select(filter);
      for (const row of db.prepare<Array<string | number>, StoredRow>(sql).iterate(...params)) yield toRecord(row);
    },
    after(seq, filter = {}) {
      const { sql, params } = select({ ...filter, order: "asc" }, { afterSeq: seq });
      return db.prepare<Array<string | number>, StoredRow>(sql).all(...params).map(toRecord);
    },
    verify() {
      // Two statements: better-sqlite3 cannot run one statement again while iterating it.
      const walk = db.prepare<[], StoredRow>("SELECT * FROM audit ORDER BY seq");
      const all = db.prepare<[], StoredRow>("SELECT * FROM audit ORDER BY seq");
      return db.transaction(() => verifyChain(walk.iterate(), () => all.all()))();
    },
    count(filter = {}) {
      const where = filterToSql(filter, now());
      if (!where.ok) throw new PipgateError("audit-filter", where.error);
      const row = db
        .prepare<Array<string | number>, { n: number }>(`SELECT count(*) AS n FROM audit ${where.value.sql}`)
        .get(...where.value.params);
      return row?.n ?? 0;
    },
    seqOfHash(hash) {
      return db.prepare<[string], { seq: number }>("SELECT seq FROM audit WHERE hash = ?").get(hash)?.seq;
    },
  };
}

/**
 * A stored row read back as a record. The table is outside the process's control (that is what verify is
 * for), so the body goes through its schema; a body that no longer parses is shown, not hidden.
 */
function toRecord(row: StoredRow): AuditRecord {
  let body: AuditBody;
  try {
    const parsed = AuditBodySchema.safeParse(JSON.parse(row.body));
    body = parsed.success ? parsed.data : { arguments: undefined, reason: `unreadable audit body: ${row.body}` };
  } catch {
    body = { arguments: undefined, reason: `unreadable audit body: ${row.body}` };
  }
  const outcome = OutcomeSchema.safeParse(row.outcome);
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
  for (const key of BODY_KEYS) if (body[key] !== undefined) record[key] = body[key];
  record.prevHash = row.prev_hash;
  record.hash = row.hash;
  return record as AuditRecord;
}
