import { canonicalJson } from "../../audit/canonical-json.js";
import { errorMessage, type Result } from "../../errors.js";
import type { Logger } from "../../log.js";
import { parseDatabaseUrl, type DatabaseConfig } from "../../config/database.js";
import type { CallApprovalOptions } from "../../approvals/call-approvals.js";
import { createPgApprovalStore } from "./approvals.js";
import { createPgAuditLog } from "./audit.js";
import { createPgHttpCache, createPgResolutionCache } from "./caches.js";
import { createPgCallApprovalStore } from "./call-approvals.js";
import { migratePg } from "./migrations.js";
import { openPgPool, type PgPool } from "./pool.js";
import { createPgPublisherStore } from "./publishers.js";
import { createPgRateStore, createPgSlotStore } from "./rates.js";

/** Every shared store of fleet mode over one pool. */
export interface PgStores {
  pool: PgPool;
  audit: ReturnType<typeof createPgAuditLog>;
  rates: ReturnType<typeof createPgRateStore>;
  /** tools' concurrency caps, counted across every broker on the database */
  slots: ReturnType<typeof createPgSlotStore>;
  approvals: ReturnType<typeof createPgApprovalStore>;
  /** held calls with the default expiry (24 h), for commands that only read or decide them */
  callApprovals: ReturnType<typeof createPgCallApprovalStore>;
  /** held calls with the policy's expiry (`approval.expires_after_hours`), as the limiter needs them */
  callApprovalsWith(options: CallApprovalOptions): ReturnType<typeof createPgCallApprovalStore>;
  httpCache: ReturnType<typeof createPgHttpCache>;
  resolutions: ReturnType<typeof createPgResolutionCache>;
  publishers: ReturnType<typeof createPgPublisherStore>;
  close(): Promise<void>;
}

export interface OpenPgOptions {
  log: Logger;
  callApprovals?: CallApprovalOptions;
  now?: () => Date;
  /** where password_env is looked up (process.env by default) */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Opens `database:` for a broker: reads the password from the variable password_env names, connects
 * (a few tries with back-off), and migrates. Every failure is a message naming the server (never a
 * credential) that serve and install print before they exit non-zero.
 */
export async function openPgStores(database: DatabaseConfig, options: OpenPgOptions): Promise<Result<PgStores>> {
  const target = parseDatabaseUrl(database.url);
  if (!target.ok) return { ok: false, error: `database.url: ${target.error}` };
  const env = options.env ?? process.env;
  let password: string | undefined;
  if (database.password_env !== undefined) {
    password = env[database.password_env];
    if (password === undefined || password === "") {
      return { ok: false, error: `database.password_env names ${database.password_env}, which is not set: export the password of the database role there` };
    }
  }
  const opened = await openPgPool({ target: target.value, password, max: database.pool_max, log: options.log });
  if (!opened.ok) return { ok: false, error: `cannot open the state database ${target.value.display}: ${opened.error}` };
  const pool = opened.value;
  try {
    const migrated = await migratePg(pool);
    if (migrated.from !== migrated.to) options.log.info({ database: pool.display, ...migrated }, "migrated the state database");
  } catch (error) {
    await pool.close().catch(() => undefined);
    return { ok: false, error: `cannot migrate the state database ${target.value.display}: ${errorMessage(error)}` };
  }
  const now = options.now ?? (() => new Date());
  return {
    ok: true,
    value: {
      pool,
      audit: createPgAuditLog(pool, { now }),
      rates: createPgRateStore(pool),
      slots: createPgSlotStore(pool),
      approvals: createPgApprovalStore(pool),
      callApprovals: createPgCallApprovalStore(pool, options.callApprovals ?? { canonical: canonicalJson }),
      callApprovalsWith: (callOptions) => createPgCallApprovalStore(pool, callOptions),
      httpCache: createPgHttpCache(pool),
      resolutions: createPgResolutionCache(pool, now),
      publishers: createPgPublisherStore(pool),
      close: () => pool.close(),
    },
  };
}
