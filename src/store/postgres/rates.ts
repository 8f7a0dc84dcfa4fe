import { WINDOW_MS } from "../../config/policy-file-schema.js";
import type { RateStore, TakeResult } from "../../ratelimit/store.js";
import { judgeWindow, type WindowCheck } from "../../ratelimit/window.js";
import type { Async } from "./pending-async.js";
import type { PgPool } from "./pool.js";

/** The longest window there is: events older than this can never count again. */
const LONGEST_WINDOW_MS = WINDOW_MS.day;

/** The advisory lock of one counter key: a take holds the locks of every key it checks, taken in one order. */
export function rateLock(key: string): string {
  return `pipgate:rate:${key}`;
}

/**
 * Rate windows over PostgreSQL, exact across brokers: `take` runs in one transaction holding the
 * advisory lock of every key it checks (in sorted order, so two takes never deadlock), then prunes,
 * counts and inserts as the SQLite store does under its IMMEDIATE transaction. N brokers taking the
 * last slot of a window at once: one gets it, the others wait for its commit and then see it.
 */
export function createPgRateStore(pool: PgPool): Async<RateStore> {
  const events = async (q: (sql: string, params: unknown[]) => Promise<Array<{ at: number }>>, key: string, since: number) =>
    (await q("SELECT at FROM rate_events WHERE key = $1 AND at > $2 ORDER BY at", [key, since])).map((row) => row.at);

  return {
    async take(checks: readonly WindowCheck[], now: number): Promise<TakeResult> {
      if (checks.length === 0) return { ok: true };
      const keys = [...new Set(checks.map((check) => check.key))];
      return pool.tx(
        async (q) => {
          await q("DELETE FROM rate_events WHERE key = ANY($1::text[]) AND at <= $2", [keys, now - LONGEST_WINDOW_MS]);
          let refusal: TakeResult | undefined;
          for (const check of checks) {
            const verdict = judgeWindow(await events(q, check.key, now - check.windowMs), now, check);
            // Of several full windows, report the one that frees up last: retrying earlier would be refused again.
            if (!verdict.ok && (refusal === undefined || (!refusal.ok && verdict.retryAt > refusal.retryAt))) {
              refusal = { ok: false, check, retryAt: verdict.retryAt };
            }
          }
          if (refusal !== undefined) return refusal;
          await q("INSERT INTO rate_events (key, at) SELECT k, $2 FROM unnest($1::text[]) AS k", [keys, now]);
          return { ok: true };
        },
        { locks: keys.map(rateLock) },
      );
    },
    async events(key, now) {
      return events((sql, params) => pool.query(sql, params), key, now - LONGEST_WINDOW_MS);
    },
  };
}
