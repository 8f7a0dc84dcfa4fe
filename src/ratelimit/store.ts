import type { Db } from "../state/db.js";
import { judgeWindow, type WindowCheck } from "./window.js";
import { WINDOW_MS } from "../config/policy-file-schema.js";

export type TakeResult = { ok: true } | { ok: false; check: WindowCheck; retryAt: number };

/**
 * Where window events live. `take` is atomic: it checks every window and, only when all admit the call,
 * records one event per key, so two processes sharing a store can never both take the last slot.
 * SQLite now; a Redis implementation (a MULTI over sorted sets, or a Lua script) fits the same shape.
 */
export interface RateStore {
  take(checks: readonly WindowCheck[], now: number): Promise<TakeResult>;
  /** Event times of a key still inside the longest window, oldest first (for reports and tests). */
  events(key: string, now: number): Promise<number[]>;
}

/** The longest window there is: events older than this can never count again. */
const LONGEST_WINDOW_MS = WINDOW_MS.day;

/** RateStore over the state database's `rate_events` table: counts survive a restart and are shared between processes. */
export function createSqliteRateStore(db: Db): RateStore {
  const select = db.prepare<[string, number], { at: number }>("SELECT at FROM rate_events WHERE key = ? AND at > ? ORDER BY at");
  const insert = db.prepare<[string, number]>("INSERT INTO rate_events (key, at) VALUES (?, ?)");
  const prune = db.prepare<[string, number]>("DELETE FROM rate_events WHERE key = ? AND at <= ?");

  const takeTx = db.transaction((checks: readonly WindowCheck[], now: number): TakeResult => {
    const keys = [...new Set(checks.map((check) => check.key))];
    for (const key of keys) prune.run(key, now - LONGEST_WINDOW_MS);
    let refusal: TakeResult | undefined;
    for (const check of checks) {
      const events = select.all(check.key, now - check.windowMs).map((row) => row.at);
      const verdict = judgeWindow(events, now, check);
      // Of several full windows, report the one that frees up last: retrying earlier would be refused again.
      if (!verdict.ok && (refusal === undefined || (!refusal.ok && verdict.retryAt > refusal.retryAt))) {
        refusal = { ok: false, check, retryAt: verdict.retryAt };
      }
    }
    if (refusal !== undefined) return refusal;
    for (const key of keys) insert.run(key, now);
    return { ok: true };
  });

  // Async for the interface; the transaction runs inside one synchronous call, so no await splits it.
  return {
    take: async (checks, now) => (checks.length === 0 ? { ok: true } : takeTx.immediate(checks, now)),
    events: async (key, now) => select.all(key, now - LONGEST_WINDOW_MS).map((row) => row.at),
  };
}
