import { isOutcome, OUTCOME_KIND, type AuditRecord, type OutcomeKind, type OutcomeRecord } from "./types.js";

/** The order kinds are stacked and listed in, everywhere in the report. */
export const KINDS: readonly OutcomeKind[] = ["installed", "refused", "failed", "other"];
export type KindCounts = Record<OutcomeKind, number>;
/** How wide one bar of the time chart is. */
export type BucketUnit = "hour" | "day" | "week";

/** One bar of the time chart: a period and what happened in it. */
export interface TimeBucket {
  start: Date;
  label: string;
  counts: KindCounts;
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

/** Everything the report shows, computed from the records alone: a pure function, tested without a browser. */
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

const zero = (): KindCounts => ({ installed: 0, refused: 0, failed: 0, other: 0 });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_BUCKETS = 120;

/** Hours for up to three days, days for up to ~four months, weeks beyond: a chart keeps a readable number of bars. */
export function chooseUnit(spanMs: number): BucketUnit {
  if (spanMs <= 3 * DAY) return "hour";
  if (spanMs <= MAX_BUCKETS * DAY) return "day";
  return "week";
}

function floorTo(time: number, unit: BucketUnit): number {
  if (unit === "hour") return Math.floor(time / HOUR) * HOUR;
  const day = Math.floor(time / DAY) * DAY;
  if (unit === "day") return day;
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday starts the week
  return day - weekday * DAY;
}

function step(time: number, unit: BucketUnit): number {
  return time + (unit === "hour" ? HOUR : unit === "day" ? DAY : 7 * DAY);
}

function bucketLabel(time: number, unit: BucketUnit): string {
  const iso = new Date(time).toISOString();
  return unit === "hour" ? `${iso.slice(0, 13)}:00Z` : unit === "day" ? iso.slice(0, 10) : `week of ${iso.slice(0, 10)}`;
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
    const entry = map.get(name) ?? { name, counts: zero(), total: 0 };
    entry.counts[OUTCOME_KIND[record.outcome]] += 1;
    entry.total += 1;
    map.set(name, entry);
  }
  return map;
}

const byTotal = (a: CountedName, b: CountedName) => b.total - a.total || a.name.localeCompare(b.name);

/**
 * Aggregates records (any order) into the report's totals, time series, reasons, packages and identities.
 * It counts outcomes, one per request: intent records are left out.
 */
export function summarise(all: AuditRecord[], opts: { unit?: BucketUnit; topPackages?: number; topReasons?: number } = {}): ReportData {
  const records = all.filter((record): record is OutcomeRecord => isOutcome(record.outcome));
  const totals = { ...zero(), all: records.length, identities: 0, packages: 0 };
  for (const record of records) totals[OUTCOME_KIND[record.outcome]] += 1;
  const times = records.map((r) => Date.parse(r.time)).filter((t) => Number.isFinite(t));
  const min = times.length === 0 ? undefined : Math.min(...times);
  const max = times.length === 0 ? undefined : Math.max(...times);
  const unit = opts.unit ?? chooseUnit(min === undefined || max === undefined ? 0 : max - min);

  const buckets: TimeBucket[] = [];
  if (min !== undefined && max !== undefined) {
    const index = new Map<number, TimeBucket>();
    for (let t = floorTo(min, unit); t <= max; t = step(t, unit)) {
      const bucket = { start: new Date(t), label: bucketLabel(t, unit), counts: zero() };
      buckets.push(bucket);
      index.set(t, bucket);
    }
    for (const record of records) {
      const t = Date.parse(record.time);
      if (Number.isFinite(t)) index.get(floorTo(t, unit))!.counts[OUTCOME_KIND[record.outcome]] += 1;
    }
  }

  const reasonMap = new Map<string, { kind: string; count: number; example: string }>();
  for (const record of records) {
    if (OUTCOME_KIND[record.outcome] !== "refused") continue;
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
    unit,
    buckets,
    reasons,
    packages: [...packageMap.values()].sort(byTotal).slice(0, opts.topPackages ?? 10),
    identities,
  };
}
