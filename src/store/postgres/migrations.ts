import { PipgateError } from "../../errors.js";
import type { PgPool } from "./pool.js";

/**
 * The PostgreSQL schema of fleet mode, versioned like state/db.ts's MIGRATIONS (append-only, each run
 * once in order) and mirroring its tables column for column, so both adapters read rows through the
 * same schemas. Where PostgreSQL differs it says so: BIGINT for milliseconds and sequence numbers,
 * JSONB for JSON no hash covers, BYTEA for bodies, COLLATE "C" where SQLite's byte order is relied on.
 * The audit body stays TEXT: its hash covers those exact bytes (audit/chain.ts), whoever wrote it.
 * What describes one machine — the commit journal, the gateway's tool pins, the wheel store — is not
 * here: it stays in each broker's own SQLite file.
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: the audit chain. UNIQUE(seq) is the primary key and UNIQUE(prev_hash) a second guard beside the
  // append lock: two records can never claim the same predecessor. request_id is body.request.requestId,
  // written with the row (SQLite indexes the same expression over the body).
  `CREATE TABLE audit (
     seq BIGINT PRIMARY KEY,
     id TEXT COLLATE "C" NOT NULL UNIQUE,
     time TEXT COLLATE "C" NOT NULL,
     identity TEXT NOT NULL,
     tool TEXT NOT NULL,
     environment TEXT,
     package TEXT,
     outcome TEXT NOT NULL,
     body TEXT NOT NULL,
     prev_hash TEXT NOT NULL UNIQUE,
     hash TEXT NOT NULL,
     request_id TEXT
   );
   CREATE INDEX audit_time ON audit(time);
   CREATE INDEX audit_identity ON audit(identity);
   CREATE INDEX audit_environment ON audit(environment);
   CREATE INDEX audit_package ON audit(package);
   CREATE INDEX audit_outcome ON audit(outcome);
   CREATE INDEX audit_request ON audit(request_id);
   CREATE TABLE http_cache (
     url TEXT PRIMARY KEY,
     fetched_at BIGINT NOT NULL,
     etag TEXT,
     last_modified TEXT,
     content_type TEXT,
     body BYTEA NOT NULL
   );
   CREATE TABLE rate_events (
     key TEXT NOT NULL,
     at BIGINT NOT NULL
   );
   CREATE INDEX rate_events_key_at ON rate_events(key, at);
   CREATE TABLE approvals (
     id TEXT COLLATE "C" PRIMARY KEY,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     identity TEXT NOT NULL,
     environment TEXT NOT NULL,
     package TEXT NOT NULL,
     request JSONB NOT NULL,
     why TEXT NOT NULL,
     state TEXT NOT NULL,
     decided_by TEXT,
     decided_at BIGINT,
     decision_reason TEXT,
     result JSONB,
     audit_id TEXT NOT NULL
   );
   CREATE INDEX approvals_state ON approvals(state);
   CREATE TABLE resolution_cache (
     key TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     used_at TEXT NOT NULL,
     wheels JSONB NOT NULL
   );
   CREATE TABLE call_approvals (
     seq BIGSERIAL,
     id TEXT COLLATE "C" PRIMARY KEY,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     identity TEXT NOT NULL,
     tool TEXT NOT NULL,
     args_sha256 TEXT NOT NULL,
     arguments TEXT NOT NULL,
     arguments_truncated INTEGER NOT NULL,
     rule TEXT NOT NULL,
     message TEXT NOT NULL,
     state TEXT NOT NULL,
     decided_by TEXT,
     decided_at BIGINT,
     decision_reason TEXT,
     used_at BIGINT
   );
   CREATE INDEX call_approvals_call ON call_approvals(identity, tool, args_sha256, created_at);
   CREATE INDEX call_approvals_state ON call_approvals(state);`,
  // 2: leased concurrency slots, global across brokers: a slot whose broker died expires with its lease
  `CREATE TABLE rate_slots (
     id TEXT PRIMARY KEY,
     key TEXT NOT NULL,
     owner TEXT NOT NULL,
     acquired_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX rate_slots_key ON rate_slots(key, expires_at);`,
  // 3: the Trusted Publisher each project was first installed from (rules.provenance), one record for the fleet
  `CREATE TABLE provenance_publishers (
     index_url TEXT NOT NULL,
     project TEXT NOT NULL,
     publisher TEXT NOT NULL,
     first_version TEXT NOT NULL,
     recorded_at BIGINT NOT NULL,
     PRIMARY KEY (index_url, project)
   );`,
  // 4: the broker that queued an install approval: the approved install runs there, whoever approves it
  `ALTER TABLE approvals ADD COLUMN owner TEXT;
   CREATE INDEX approvals_owner ON approvals(state, owner);`,
];

/** The lock every migrating broker takes: three brokers starting at once migrate once, one after another. */
export const MIGRATION_LOCK = "pipgate:migrate";

/**
 * Brings the database's schema up to date in one transaction under an advisory lock: the first broker
 * to get the lock applies what is missing, the others then find nothing to do. A database migrated by a
 * newer pipgate is refused (fail closed): this broker would not know its tables.
 */
export async function migratePg(pool: PgPool, migrations: readonly string[] = PG_MIGRATIONS): Promise<{ from: number; to: number }> {
  return pool.tx(
    async (q) => {
      await q(`CREATE TABLE IF NOT EXISTS pipgate_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      const [row] = await q<{ version: number | null }>("SELECT max(version) AS version FROM pipgate_schema");
      const from = row?.version ?? 0;
      if (from > migrations.length) {
        throw new PipgateError(
          "database-schema",
          `the state database ${pool.display} has schema version ${from}, newer than this pipgate knows (${migrations.length}): upgrade this broker`,
        );
      }
      for (let version = from; version < migrations.length; version += 1) {
        const sql = migrations[version];
        if (sql === undefined) break;
        await q(sql);
        await q("INSERT INTO pipgate_schema (version) VALUES ($1)", [version + 1]);
      }
      return { from, to: migrations.length };
    },
    { locks: [MIGRATION_LOCK] },
  );
}
