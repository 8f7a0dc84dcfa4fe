import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

export type Db = Database.Database;

/**
 * Each migration runs once, in order, inside a transaction; user_version records how far a database
 * has come. Modules add their tables here so that one file shows the whole schema's history.
 */
const MIGRATIONS: readonly string[] = [
  // 1: audit log (hash-chained, append-only)
  `CREATE TABLE audit (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     time TEXT NOT NULL,
     identity TEXT NOT NULL,
     tool TEXT NOT NULL,
     environment TEXT,
     package TEXT,
     outcome TEXT NOT NULL,
     body TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_time ON audit(time);
   CREATE INDEX audit_identity ON audit(identity);
   CREATE INDEX audit_environment ON audit(environment);
   CREATE INDEX audit_package ON audit(package);
   CREATE INDEX audit_outcome ON audit(outcome);`,
  // 2: index metadata cache
  `CREATE TABLE http_cache (
     url TEXT PRIMARY KEY,
     fetched_at INTEGER NOT NULL,
     etag TEXT,
     last_modified TEXT,
     content_type TEXT,
     body BLOB NOT NULL
   );`,
  // 3: rate-limit events and commit journal
  `CREATE TABLE rate_events (
     key TEXT NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX rate_events_key_at ON rate_events(key, at);
   CREATE TABLE commit_journal (
     id TEXT PRIMARY KEY,
     environment TEXT NOT NULL,
     audit_id TEXT NOT NULL,
     started_at TEXT NOT NULL,
     backup_dir TEXT NOT NULL,
     state TEXT NOT NULL
   );`,
  // 4: approval queue (requests waiting for a person, and what became of them)
  `CREATE TABLE approvals (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     identity TEXT NOT NULL,
     environment TEXT NOT NULL,
     package TEXT NOT NULL,
     request TEXT NOT NULL,
     why TEXT NOT NULL,
     state TEXT NOT NULL,
     decided_by TEXT,
     decided_at INTEGER,
     decision_reason TEXT,
     result TEXT,
     audit_id TEXT NOT NULL
   );
   CREATE INDEX approvals_state ON approvals(state);`,
  // 5: verified resolutions, so a repeat install needs no sandbox (only a fresh policy check)
  `CREATE TABLE resolution_cache (
     key TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     used_at TEXT NOT NULL,
     wheels TEXT NOT NULL
   );`,
  // 6: audit records by the request id they name, so an intent finds its outcome (see audit/store.ts)
  `CREATE INDEX audit_request ON audit((CASE WHEN json_valid(body) THEN json_extract(body, '$.request.requestId') END));`,
  // 7: tool calls the policy holds for a person (gateway mode and pipgate's own tools): one row per
  // identity + tool + sha256 of the canonical arguments; an approval admits that exact call once
  `CREATE TABLE call_approvals (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     identity TEXT NOT NULL,
     tool TEXT NOT NULL,
     args_sha256 TEXT NOT NULL,
     arguments TEXT NOT NULL,
     arguments_truncated INTEGER NOT NULL,
     rule TEXT NOT NULL,
     message TEXT NOT NULL,
     state TEXT NOT NULL,
     decided_by TEXT,
     decided_at INTEGER,
     decision_reason TEXT,
     used_at INTEGER
   );
   CREATE INDEX call_approvals_call ON call_approvals(identity, tool, args_sha256, created_at);
   CREATE INDEX call_approvals_state ON call_approvals(state);`,
  // 8: an upstream's tool definitions as pinned (accepted) and as last seen, against silent change
  `CREATE TABLE upstream_tool_pins (
     upstream_key TEXT NOT NULL,
     name TEXT NOT NULL,
     first_seen INTEGER NOT NULL,
     accepted_sha256 TEXT NOT NULL,
     accepted_definition TEXT NOT NULL,
     accepted_at INTEGER NOT NULL,
     current_sha256 TEXT NOT NULL,
     current_definition TEXT NOT NULL,
     last_seen INTEGER NOT NULL,
     PRIMARY KEY (upstream_key, name)
   );`,
  // 9: the Trusted Publisher each project was first installed from (PEP 740 provenance, rules.provenance: pinned)
  `CREATE TABLE provenance_publishers (
     index_url TEXT NOT NULL,
     project TEXT NOT NULL,
     publisher TEXT NOT NULL,
     first_version TEXT NOT NULL,
     recorded_at INTEGER NOT NULL,
     PRIMARY KEY (index_url, project)
   );`,
  // 10: which broker queued an install approval (its state directory's id, below), so the install runs
  // there whoever approves it; and this state directory's own facts, the first being that id
  `ALTER TABLE approvals ADD COLUMN owner TEXT;
   CREATE INDEX approvals_owner ON approvals(state, owner);
   CREATE TABLE local_meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
];

/** Opens (creating if needed) the state database in stateDir and brings its schema up to date. */
export function openStateDb(stateDir: string): Db {
  mkdirSync(stateDir, { recursive: true });
  const db = new Database(join(stateDir, "state.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

/** An in-memory database with the full schema, for tests. */
export function openMemoryDb(): Db {
  const db = new Database(":memory:");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version += 1) {
    const sql = MIGRATIONS[version];
    if (sql === undefined) break;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
