import { isOutcome, type AuditRecord, type OutcomeRecord } from "./types.js";

/**
 * The kinds every count is split by, in the console and the HTML report alike (one module, so both say the
 * same numbers). An already-satisfied answer is not an install; a malformed call, a rate limit and a
 * `check_package` dry run are not refusals by policy; a call forwarded to a gateway upstream is its own kind.
 */
export const KINDS = ["installed", "already-satisfied", "refused", "invalid", "rate-limited", "failed", "approval", "gateway", "check", "other"] as const;
export type CountKind = (typeof KINDS)[number];
export type KindCounts = Record<CountKind, number>;

/** What a person reads for each kind: the same words on every card, legend and table header. */
export const KIND_LABEL: Readonly<Record<CountKind, string>> = {
  installed: "installed",
  "already-satisfied": "already satisfied",
  refused: "refused by policy",
  invalid: "invalid input",
  "rate-limited": "rate-limited",
  failed: "failed",
  approval: "awaiting or given approval",
  gateway: "gateway calls",
  check: "check_package dry runs",
  other: "other",
};

/** The tool whose answers are dry runs: its "denied" is advice to the agent, not a refused install. */
const DRY_RUN_TOOL = "check_package";

/**
 * The kind one outcome record counts as. The tool decides first for dry runs (whatever their outcome), then
 * the outcome: a person's rejection and an expired approval are refusals; an interrupted, timed-out or
 * rolled-back request failed; listings and reaping are "other".
 */
export function kindOf(record: Pick<OutcomeRecord, "outcome" | "tool">): CountKind {
  if (record.tool === DRY_RUN_TOOL) return "check";
  switch (record.outcome) {
    case "installed":
      return "installed";
    case "already-satisfied":
      return "already-satisfied";
    case "denied":
    case "rejected":
    case "expired":
      return "refused";
    case "invalid":
      return "invalid";
    case "rate-limited":
      return "rate-limited";
    case "failed":
    case "timed-out":
    case "rolled-back":
    case "interrupted":
      return "failed";
    case "pending":
    case "approved":
      return "approval";
    case "forwarded":
      return "gateway";
    case "allowed":
    case "listed":
    case "reaped":
      return "other";
  }
}

/** Whether a kind is a refusal whose reasons the report groups. */
export function isRefusal(kind: CountKind): boolean {
  return kind === "refused" || kind === "invalid" || kind === "rate-limited";
}

/** How wide one bar of the time chart is: from a minute (a 12-minute range) to a week (a year). */
export const BUCKET_UNITS = ["minute", "5 minutes", "15 minutes", "hour", "6 hours", "day", "week"] as const;
export type BucketUnit = (typeof BUCKET_UNITS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const UNIT_MS: Readonly<Record<BucketUnit, number>> = {
  minute: MINUTE,
  "5 minutes": 5 * MINUTE,
  "15 minutes": 15 * MINUTE,
  hour: HOUR,
  "6 hours": 6 * HOUR,
  day: DAY,
  week: 7 * DAY,
};
/** The most bars a chosen unit gives: enough to see a pattern, few enough to read each bar. */
export const MAX_BARS = 96;
/** The most bars any range gets, even with a unit asked for: a hostile `since` cannot make a million. */
const HARD_MAX_BARS = 1000;

/** The finest unit that shows the span in at most MAX_BARS bars: minutes for 12 minutes, days for a month. */
export function chooseUnit(spanMs: number): BucketUnit {
  for (const unit of BUCKET_UNITS) if (Math.max(0, spanMs) / UNIT_MS[unit] < MAX_BARS) return unit;
  return "week";
}

/** The start of the bucket holding `time` (UTC; weeks start on Monday). */
export function floorTo(time: number, unit: BucketUnit): number {
  if (unit !== "week") return Math.floor(time / UNIT_MS[unit]) * UNIT_MS[unit];
  const day = Math.floor(time / DAY) * DAY;
  const weekday = (new Date(day).getUTCDay() + 6) % 7;
  return day - weekday * DAY;
}

function bucketLabel(time: number, unit: BucketUnit): { label: string; tick: string } {
  const iso = new Date(time).toISOString();
  if (unit === "day") return { label: iso.slice(0, 10), tick: iso.slice(5, 10) };
  if (unit === "week") return { label: `week of ${iso.slice(0, 10)}`, tick: iso.slice(5, 10) };
  return { label: `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`, tick: iso.slice(11, 16) };
}

/** One bar of the time chart: a period and what happened in it. */
export interface TimeBucket {
  start: Date;
  /** the whole period's start, e.g. "2024-05-01 08:05Z" */
  label: string;
  /** what fits under the bar, e.g. "08:05" */
  tick: string;
  counts: KindCounts;
}

export const zeroCounts = (): KindCounts => Object.fromEntries(KINDS.map((kind) => [kind, 0])) as KindCounts;

/**
 * The bars for a range: every bucket from `from` to `to`, empty ones kept, each record counted in its own.
 * The unit is the one asked for unless that would draw more than a thousand bars.
 */
export function bucketise(
  records: readonly OutcomeRecord[],
  range: { from: number; to: number },
  unit?: BucketUnit,
): { unit: BucketUnit; buckets: TimeBucket[] } {
  const from = Math.min(range.from, range.to);
  const to = Math.max(range.from, range.to);
  const chosen = unit !== undefined && (to - from) / UNIT_MS[unit] <= HARD_MAX_BARS ? unit : chooseUnit(to - from);
  const buckets: TimeBucket[] = [];
  const index = new Map<number, TimeBucket>();
  for (let t = floorTo(from, chosen); t <= to && buckets.length <= HARD_MAX_BARS; t = chosen === "week" ? t + 7 * DAY : t + UNIT_MS[chosen]) {
    const bucket = { start: new Date(t), ...bucketLabel(t, chosen), counts: zeroCounts() };
    buckets.push(bucket);
    index.set(t, bucket);
  }
  for (const record of records) {
    const t = Date.parse(record.time);
    if (!Number.isFinite(t)) continue;
    const bucket = index.get(floorTo(t, chosen));
    if (bucket !== undefined) bucket.counts[kindOf(record)] += 1;
  }
  return { unit: chosen, buckets };
}

/** A package or identity with its requests split by kind. */
export interface CountedName {
  name: string;
  counts: KindCounts;
  total: number;
}
export interface IdentityRow extends CountedName {
  firstSeen: string;
  lastSeen: string;
}

/** Everything the report and the console's summary show, computed from the records alone: pure, tested without a browser. */
export interface ReportData {
  totals: KindCounts & { all: number; identities: number; packages: number };
  first?: string;
  last?: string;
  unit: BucketUnit;
  buckets: TimeBucket[];
  reasons: Array<{ kind: string; count: number; example: string }>;
  packages: CountedName[];
  identities: IdentityRow[];
}

/**
 * Groups refusal reasons by what kind of refusal they are: up to seven words before the first colon or
 * bracket, with the record's own package name and any word holding a digit shown as "…", so
 * "version 1.0 of x is outside …" and "version 2.3 of y is outside …" count together.
 */
export function reasonKind(record: AuditRecord): string {
  if (record.reason === undefined || record.reason.trim() === "") return `${record.outcome} (no reason given)`;
  const head = record.reason.split(/[:(\n[]/)[0] ?? "";
  const pkg = record.package?.toLowerCase();
  const tokens: string[] = [];
  let words = 0;
  for (const word of head.trim().toLowerCase().split(/\s+/)) {
    if (word === "") continue;
    const variable = /\d/.test(word) || (pkg !== undefined && pkg !== "" && word.includes(pkg));
    if (variable) {
      if (tokens.at(-1) !== "…") tokens.push("…");
      continue;
    }
    if (words === 7) break;
    tokens.push(word);
    words += 1;
  }
  while (tokens.at(-1) === "…") tokens.pop();
  return words === 0 ? record.outcome : tokens.join(" ");
}

function countBy(records: OutcomeRecord[], key: (r: AuditRecord) => string | undefined): Map<string, CountedName> {
  const map = new Map<string, CountedName>();
  for (const record of records) {
    const name = key(record);
    if (name === undefined) continue;
    const entry = map.get(name) ?? { name, counts: zeroCounts(), total: 0 };
    entry.counts[kindOf(record)] += 1;
    entry.total += 1;
    map.set(name, entry);
  }
  return map;
}

const byTotal = (a: CountedName, b: CountedName) => b.total - a.total || a.name.localeCompare(b.name);

export interface SummariseOptions {
  unit?: BucketUnit;
  /** The range shown (a filter's since/until): the bars cover it whole, not just from the first record to the last. */
  range?: { from: Date; to: Date };
  topPackages?: number;
  topReasons?: number;
}

/**
 * Aggregates records (any order) into totals by kind, a time series, refusal reasons, packages and identities.
 * It counts outcomes, one per request: intent records are left out.
 */
export function summarise(all: readonly AuditRecord[], opts: SummariseOptions = {}): ReportData {
  const records = all.filter((record): record is OutcomeRecord => isOutcome(record.outcome));
  const totals = { ...zeroCounts(), all: records.length, identities: 0, packages: 0 };
  for (const record of records) totals[kindOf(record)] += 1;
  let min: number | undefined;
  let max: number | undefined;
  for (const record of records) {
    const t = Date.parse(record.time);
    if (!Number.isFinite(t)) continue;
    if (min === undefined || t < min) min = t;
    if (max === undefined || t > max) max = t;
  }
  const range =
    opts.range !== undefined
      ? { from: opts.range.from.getTime(), to: opts.range.to.getTime() }
      : min !== undefined && max !== undefined
        ? { from: min, to: max }
        : undefined;
  const series = range === undefined ? { unit: opts.unit ?? chooseUnit(0), buckets: [] } : bucketise(records, range, opts.unit);

  const reasonMap = new Map<string, { kind: string; count: number; example: string }>();
  for (const record of records) {
    if (!isRefusal(kindOf(record))) continue;
    const kind = reasonKind(record);
    const entry = reasonMap.get(kind) ?? { kind, count: 0, example: record.reason ?? record.outcome };
    entry.count += 1;
    reasonMap.set(kind, entry);
  }
  const reasons = [...reasonMap.values()].sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
  const topReasons = opts.topReasons ?? 12;
  if (reasons.length > topReasons) {
    const rest = reasons.splice(topReasons - 1);
    reasons.push({ kind: `${rest.length} other kinds`, count: rest.reduce((n, r) => n + r.count, 0), example: "" });
  }

  const packageMap = countBy(records, (r) => r.package);
  const identityMap = countBy(records, (r) => r.identity);
  totals.identities = identityMap.size;
  totals.packages = packageMap.size;
  const seen = new Map<string, { first: string; last: string }>();
  for (const { identity, time } of records) {
    const entry = seen.get(identity);
    if (entry === undefined) seen.set(identity, { first: time, last: time });
    else {
      if (time < entry.first) entry.first = time;
      if (time > entry.last) entry.last = time;
    }
  }
  const identities: IdentityRow[] = [...identityMap.values()].sort(byTotal).map((entry) => ({
    ...entry,
    firstSeen: seen.get(entry.name)?.first ?? "",
    lastSeen: seen.get(entry.name)?.last ?? "",
  }));

  return {
    totals,
    ...(min === undefined ? {} : { first: new Date(min).toISOString() }),
    ...(max === undefined ? {} : { last: new Date(max).toISOString() }),
    unit: series.unit,
    buckets: series.buckets,
    reasons,
    packages: [...packageMap.values()].sort(byTotal).slice(0, opts.topPackages ?? 10),
    identities,
  };
}
