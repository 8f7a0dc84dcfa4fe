import { randomUUID } from "node:crypto";
import { WINDOW_MS } from "../../config/policy-file-schema.js";
import type { SlotStore } from "../../ratelimit/slots.js";
import type { RateStore, TakeResult } from "../../ratelimit/store.js";
import { judgeWindow, type WindowCheck } from "../../ratelimit/window.js";
import type { PgPool } from "./pool.js";

/** The longest window there is: events older than this can never count again. */
const LONGEST_WINDOW_MS = WINDOW_MS.day;

/** The advisory lock of one counter key: a take holds the locks of every key it checks, taken in one order. */
export function rateLock(key: string): string {
  return `pipgate:rate:${key}`;
}

/** The lock of one concurrency cap's key: acquiring counts and inserts under it. */
function slotLock(key: string): string {
  return `pipgate:slot:${key}`;
}

/**
 * Rate windows over PostgreSQL, exact across brokers: `take` runs in one transaction holding the
 * advisory lock of every key it checks (in sorted order, so two takes never deadlock), then prunes,
 * counts and inserts as the SQLite store does under its IMMEDIATE transaction. N brokers taking the
 * last slot of a window at once: one gets it, the others wait for its commit and then see it.
 */
export function createPgRateStore(pool: PgPool): RateStore {
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

/**
 * Concurrency caps shared by every broker: a slot is a row of `rate_slots` with a lease. Acquiring prunes
 * the key's lapsed rows, counts and inserts in one transaction under the key's advisory lock, so N
 * brokers racing for the last slot get it once. A long call renews its slot; a slot whose broker died is
 * not counted once its lease ran out, so a crash frees the cap by itself.
 */
export function createPgSlotStore(pool: PgPool): SlotStore {
  return {
    async acquire(key, max, owner, leaseMs, now) {
      return pool.tx(
        async (q) => {
          await q("DELETE FROM rate_slots WHERE key = $1 AND expires_at <= $2", [key, now]);
          const [row] = await q<{ n: number }>("SELECT count(*) AS n FROM rate_slots WHERE key = $1", [key]);
          const running = row?.n ?? 0;
          if (running >= max) return { ok: false as const, running };
          const id = `slot_${randomUUID()}`;
          await q("INSERT INTO rate_slots (id, key, owner, acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5)", [id, key, owner, now, now + leaseMs]);
          return { ok: true as const, id };
        },
        { locks: [slotLock(key)] },
      );
    },
    async renew(id, leaseMs, now) {
      return (await pool.query("UPDATE rate_slots SET expires_at = $2 WHERE id = $1 AND expires_at > $3 RETURNING id", [id, now + leaseMs, now])).length === 1;
    },
    async release(id) {
      await pool.query("DELETE FROM rate_slots WHERE id = $1", [id]);
    },
  };
}
