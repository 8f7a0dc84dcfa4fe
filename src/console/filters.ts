import { z } from "zod";
import { KINDS, type CountKind } from "../audit/report-data.js";
import { parseTimeArgument } from "../audit/query.js";
import { RecordOutcomeSchema, type AuditFilter } from "../audit/types.js";
import type { Result } from "../errors.js";

/** The filter fields a query string may carry; anything else is refused, as config keys are. */
export const FILTER_FIELDS = ["since", "until", "identity", "environment", "package", "tool", "outcome", "kind"] as const;

const text = z.string().max(200, "at most 200 characters").optional();

/** A log view's query string: every field bounded, every outcome and kind a known one. */
const QuerySchema = z.strictObject({
  since: text.describe("ISO time or a duration back from now (30m, 7d)"),
  until: text,
  identity: text,
  environment: text,
  package: text,
  tool: text,
  outcome: RecordOutcomeSchema.optional(),
  kind: z.enum(KINDS).optional(),
});

/** What the log view shows: the store's filter plus a count kind (applied after the query) and the text as typed. */
export interface ConsoleFilter {
  audit: AuditFilter;
  kind: CountKind | undefined;
  /** the fields as given, to refill the form and build links */
  given: Partial<Record<(typeof FILTER_FIELDS)[number], string>>;
  /** the range the chart covers: since (or the first record) to until (or now) */
  since: Date | undefined;
  until: Date | undefined;
}

/** Parses a log view's query string; an empty field is no filter. */
export function parseFilter(params: URLSearchParams, now: Date): Result<ConsoleFilter> {
  const raw: Record<string, string> = {};
  for (const [key, value] of params) {
    if (key === "after" || key === "limit") continue;
    if (Object.hasOwn(raw, key)) return { ok: false, error: `${key}: given twice` };
    if (value.trim() !== "") raw[key] = value.trim();
  }
  const parsed = QuerySchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, error: parsed.error.issues.map((issue) => `${issue.path.join(".") || "query"}: ${issue.message}`).join("; ") };
  }
  const values = parsed.data;
  const audit: AuditFilter = {};
  const bounds: { since?: Date; until?: Date } = {};
  for (const bound of ["since", "until"] as const) {
    const given = values[bound];
    if (given === undefined) continue;
    const time = parseTimeArgument(given, now);
    if (!time.ok) return { ok: false, error: `${bound}: ${time.error}` };
    bounds[bound] = time.value;
    audit[bound] = time.value;
  }
  if (values.identity !== undefined) audit.identity = values.identity;
  if (values.environment !== undefined) audit.environment = values.environment;
  if (values.package !== undefined) audit.package = values.package;
  if (values.tool !== undefined) audit.tool = values.tool;
  if (values.outcome !== undefined) audit.outcome = values.outcome;
  const given: ConsoleFilter["given"] = {};
  for (const field of FILTER_FIELDS) {
    const value = values[field];
    if (value !== undefined) given[field] = value;
  }
  return { ok: true, value: { audit, kind: values.kind, given, since: bounds.since, until: bounds.until } };
}

/** A query string for the log view with these fields (empty ones left out). */
export function filterQuery(given: ConsoleFilter["given"]): string {
  const params = new URLSearchParams();
  for (const field of FILTER_FIELDS) {
    const value = given[field];
    if (value !== undefined && value !== "") params.set(field, value);
  }
  const query = params.toString();
  return query === "" ? "" : `?${query}`;
}
