import type { Result } from "../errors.js";
import { INTENT, type AuditFilter } from "./types.js";
import { normalizeName } from "../requirement/name.js";

const RELATIVE = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * Auditors think in "the last 24 hours" as often as in dates: accepts ISO dates and times
 * (`2024-05-01`, `2024-05-01T12:00Z`) and durations back from now (`30m`, `24h`, `7d`, `2w`).
 */
export function parseTimeArgument(text: string, now: Date): Result<Date> {
  const trimmed = text.trim();
  const relative = RELATIVE.exec(trimmed);
  if (relative !== null) {
    const amount = Number(relative[1]);
    const unit = relative[2] as keyof typeof UNIT_MS;
    return { ok: true, value: new Date(now.getTime() - amount * UNIT_MS[unit]) };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) {
    const date = new Date(trimmed.replace(" ", "T"));
    if (!Number.isNaN(date.getTime())) return { ok: true, value: date };
  }
  return {
    ok: false,
    error: `not a time: ${JSON.stringify(text)} (use an ISO date or time such as 2024-05-01 or 2024-05-01T12:00Z, or a duration back from now such as 30m, 24h, 7d)`,
  };
}

/** A WHERE clause and its parameters; values are always bound, never spliced into the SQL. */
export interface SqlWhere {
  sql: string;
  params: Array<string | number>;
}

/**
 * Turns a filter into SQL. `since` is inclusive and `until` exclusive, so consecutive windows never
 * count a record twice. Times compare as strings: every stored time is ISO 8601 UTC with milliseconds.
 */
export function filterToSql(filter: AuditFilter, now: Date): Result<SqlWhere> {
  const clauses: string[] = [];
  const params: Array<string | number> = [];
  for (const [bound, op] of [
    ["since", ">="],
    ["until", "<"],
  ] as const) {
    const value = filter[bound];
    if (value === undefined) continue;
    const time = value instanceof Date ? { ok: true as const, value } : parseTimeArgument(value, now);
    if (!time.ok) return time;
    clauses.push(`time ${op} ?`);
    params.push(time.value.toISOString());
  }
  for (const column of ["identity", "environment", "tool"] as const) {
    const value = filter[column];
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    params.push(value);
  }
  if (filter.package !== undefined) {
    clauses.push("package = ?");
    params.push(normalizeName(filter.package));
  }
  const outcomes = filter.outcome === undefined ? [] : Array.isArray(filter.outcome) ? filter.outcome : [filter.outcome];
  if (outcomes.length > 0) {
    clauses.push(`outcome IN (${outcomes.map(() => "?").join(", ")})`);
    params.push(...outcomes);
  } else if (filter.intents !== true) {
    // One record per request unless asked: an intent is followed by its request's outcome.
    clauses.push("outcome <> ?");
    params.push(INTENT);
  }
  return { ok: true, value: { sql: clauses.length === 0 ? "" : `WHERE ${clauses.join(" AND ")}`, params } };
}
