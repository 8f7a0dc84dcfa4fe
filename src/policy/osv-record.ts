import { z } from "zod";
import { normalizeName } from "../requirement/name.js";
import type { Result } from "../errors.js";

/**
 * One OSV record, reduced to what pipgate judges by: its id, aliases, whether it was withdrawn, when it
 * was last modified, and its PyPI `affected` entries. OSV records are data from a feed, not our
 * configuration: unknown fields are ignored (the format grows), but every field read is checked.
 */
const EventSchema = z.union([
  z.object({ introduced: z.string().max(256) }),
  z.object({ fixed: z.string().max(256) }),
  z.object({ last_affected: z.string().max(256) }),
  z.object({ limit: z.string().max(256) }),
]);

const RangeSchema = z.object({
  type: z.string().max(32),
  events: z.array(EventSchema).max(1000),
});

const AffectedSchema = z.object({
  package: z.object({ ecosystem: z.string().max(256), name: z.string().max(512) }).optional(),
  ranges: z.array(RangeSchema).max(100).optional(),
  versions: z.array(z.string().max(256)).max(100_000).optional(),
});

export const OsvRecordSchema = z.object({
  id: z.string().min(1).max(256).describe("e.g. MAL-2026-2144, GHSA-…, PYSEC-…"),
  modified: z.string().max(64).describe("RFC 3339: when the record last changed"),
  withdrawn: z.string().max(64).optional().describe("when set, the record no longer counts"),
  aliases: z.array(z.string().max(256)).max(1000).optional(),
  summary: z.string().optional(),
  affected: z.array(AffectedSchema).max(10_000).optional(),
});
export type OsvRecord = z.infer<typeof OsvRecordSchema>;

/** One event of an ECOSYSTEM range, as OSV spells it. */
export type OsvEvent = { kind: "introduced" | "fixed" | "last_affected" | "limit"; version: string };

/** What one advisory says about one PyPI project. */
export interface OsvAffected {
  /** PEP 503 normalised */
  name: string;
  /** each ECOSYSTEM range's events, in the record's order */
  ranges: OsvEvent[][];
  /** explicitly listed affected versions */
  versions: string[];
}

/** An advisory ready for indexing: only PyPI entries kept. */
export interface OsvAdvisory {
  id: string;
  aliases: string[];
  summary: string | undefined;
  /** MAL-*: a malicious package report (OSV's malicious-packages feed) */
  malicious: boolean;
  withdrawn: string | undefined;
  modified: Date | undefined;
  affected: OsvAffected[];
}

/** Parses one record's JSON; a record that does not fit is refused with the path of the first issue. */
export function parseOsvRecord(json: unknown): Result<OsvAdvisory> {
  const parsed = OsvRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `not an OSV record (${issue === undefined ? "?" : `${issue.path.join(".") || "(root)"}: ${issue.message}`})` };
  }
  const record = parsed.data;
  const modified = new Date(record.modified);
  const affected: OsvAffected[] = [];
  for (const entry of record.affected ?? []) {
    if (entry.package === undefined || entry.package.ecosystem !== "PyPI") continue;
    const ranges = (entry.ranges ?? []).filter((range) => range.type === "ECOSYSTEM").map((range) => range.events.map(toEvent));
    affected.push({ name: normalizeName(entry.package.name), ranges, versions: entry.versions ?? [] });
  }
  return {
    ok: true,
    value: {
      id: record.id,
      aliases: record.aliases ?? [],
      summary: record.summary,
      malicious: record.id.startsWith("MAL-"),
      withdrawn: record.withdrawn,
      modified: Number.isNaN(modified.getTime()) ? undefined : modified,
      affected,
    },
  };
}

function toEvent(event: z.infer<typeof EventSchema>): OsvEvent {
  if ("introduced" in event) return { kind: "introduced", version: event.introduced };
  if ("fixed" in event) return { kind: "fixed", version: event.fixed };
  if ("last_affected" in event) return { kind: "last_affected", version: event.last_affected };
  return { kind: "limit", version: event.limit };
}
