import { createAuditLog } from "../audit/store.js";
import { canonicalJson } from "../audit/canonical-json.js";
import { createMemorySlotStore } from "../ratelimit/slots.js";
import { createSqliteRateStore } from "../ratelimit/store.js";
import { createApprovalStore } from "../approvals/store.js";
import { createCallApprovalStore } from "../approvals/call-approvals.js";
import { sqliteHttpCache } from "../index/http-cache.js";
import { sqliteResolutionCache } from "../pipeline/resolution-cache.js";
import { sqlitePublisherStore } from "../provenance/store.js";
import { openStateDb, type Db } from "../state/db.js";
import type { StateStore } from "./index.js";

export interface SqliteStateOptions {
  /** the clock of the audit log and the resolution cache; tests inject one */
  now?: () => Date;
}

/**
 * The StateStore over an open state database that the caller owns (the broker keeps the commit journal
 * and the tool pins in the same file): close() leaves the database open.
 */
export function sqliteState(db: Db, opts: SqliteStateOptions = {}): StateStore {
  const now = opts.now ?? (() => new Date());
  return {
    audit: createAuditLog(db, { now }),
    rates: createSqliteRateStore(db),
    // concurrency caps stay per process on the embedded store: in memory, never in the file
    slots: createMemorySlotStore(),
    approvals: createApprovalStore(db),
    callApprovals: createCallApprovalStore(db, { canonical: canonicalJson }),
    httpCache: sqliteHttpCache(db),
    resolutions: sqliteResolutionCache(db, now),
    publishers: sqlitePublisherStore(db),
    close: async () => undefined,
  };
}

/** The StateStore in `stateDir`'s state.sqlite, with its own database handle, which close() closes. */
export function openSqliteState(stateDir: string, opts: SqliteStateOptions = {}): StateStore {
  const db = openStateDb(stateDir);
  const state = sqliteState(db, opts);
  return {
    ...state,
    close: async () => {
      db.close();
    },
  };
}
