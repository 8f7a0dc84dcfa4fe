import type { OsvConfig } from "../config/schema.js";
import { describeAge, staleness, type OsvView } from "../policy/malware.js";
import { loadOsvDatabase } from "./load.js";

/** What `pipgate osv status` and doctor report about the configured database. */
export interface OsvStatus {
  path: string;
  ok: boolean;
  records?: number;
  withdrawn?: number;
  skipped?: number;
  projects?: number;
  /** ISO 8601: the newest `modified` of the records, which is what max_age_hours is measured by */
  newestModified?: string;
  ageHours?: number;
  maxAgeHours?: number;
  /** why installs would be refused: the load failed, or the database is too old */
  problem?: string;
  warnings: string[];
}

/** Loads the database once (no watching) and says what a server would make of it now. */
export async function osvStatus(config: OsvConfig, now: Date): Promise<{ status: OsvStatus; view: OsvView }> {
  const loaded = await loadOsvDatabase(config.path, now);
  const base = { path: config.path, ...(config.max_age_hours === undefined ? {} : { maxAgeHours: config.max_age_hours }) };
  if (!loaded.ok) {
    return {
      status: { ...base, ok: false, problem: loaded.error, warnings: [] },
      view: { path: config.path, snapshot: undefined, error: loaded.error, maxAgeHours: config.max_age_hours },
    };
  }
  const { snapshot, warnings, skipped } = loaded.value;
  const stale = staleness(snapshot, config.max_age_hours, now);
  const newest = snapshot.newestModified;
  return {
    status: {
      ...base,
      ok: stale === undefined,
      records: snapshot.records,
      withdrawn: snapshot.withdrawn,
      skipped,
      projects: snapshot.projects,
      ...(newest === undefined
        ? {}
        : { newestModified: newest.toISOString(), ageHours: Math.round(((now.getTime() - newest.getTime()) / 3_600_000) * 10) / 10 }),
      ...(stale === undefined ? {} : { problem: stale }),
      warnings,
    },
    view: { path: config.path, snapshot, error: undefined, maxAgeHours: config.max_age_hours },
  };
}

/** One line: count, age, path, and the problem when there is one. */
export function osvStatusLine(status: OsvStatus, now: Date, view: OsvView): string {
  if (view.snapshot === undefined) return `${status.path}: ${status.problem ?? "not loaded"}`;
  const counts = `${status.records ?? 0} records (${status.withdrawn ?? 0} withdrawn, ${status.skipped ?? 0} skipped as not OSV) on ${status.projects ?? 0} projects`;
  const bound = status.maxAgeHours === undefined ? "no max_age_hours" : `max_age_hours ${status.maxAgeHours}`;
  const line = `${counts}, ${describeAge(view.snapshot, now)} (${bound}), ${status.path}`;
  return status.problem === undefined ? line : `${line}: ${status.problem}`;
}
