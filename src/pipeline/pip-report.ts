import { z } from "zod";
import { normalizeName } from "../requirement/name.js";

/** One entry of `pip install --dry-run --report` (report format version 1). Untrusted: the sandbox wrote it. */
export const ReportItemSchema = z.looseObject({
  download_info: z.looseObject({
    url: z.string(),
    archive_info: z
      .looseObject({
        hash: z.string().optional(),
        hashes: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
  }),
  is_direct: z.boolean().default(false),
  requested: z.boolean().default(false),
  requested_extras: z.array(z.string()).optional(),
  metadata: z.looseObject({
    name: z.string().min(1).max(200),
    version: z.string().min(1).max(100),
    requires_dist: z.array(z.string()).optional(),
    requires_python: z.string().optional(),
  }),
});
export type ReportItem = z.infer<typeof ReportItemSchema>;

export const PipReportSchema = z.looseObject({
  version: z.string(),
  install: z.array(ReportItemSchema).max(1000),
});
export type PipReport = z.infer<typeof PipReportSchema>;

/** A resolved distribution as pipgate uses it. */
export interface ResolvedItem {
  name: string; // normalised
  displayName: string;
  version: string;
  filename: string;
  sha256: string | undefined;
  kind: "wheel" | "sdist";
  requiresDist: string[];
  requested: boolean;
}

/** Flattens the report; a direct reference in it (never asked for) is a reason to refuse the whole set. */
export function resolvedItems(report: PipReport): { ok: true; items: ResolvedItem[] } | { ok: false; error: string } {
  const items: ResolvedItem[] = [];
  for (const entry of report.install) {
    if (entry.is_direct) return { ok: false, error: `the resolution contains a direct reference (${entry.metadata.name}); refused` };
    const url = entry.download_info.url.split("#")[0] ?? "";
    const filename = decodeURIComponent(url.slice(url.lastIndexOf("/") + 1));
    const hashes = entry.download_info.archive_info?.hashes ?? {};
    let sha256 = hashes.sha256;
    const legacy = entry.download_info.archive_info?.hash;
    if (sha256 === undefined && legacy?.startsWith("sha256=") === true) sha256 = legacy.slice("sha256=".length);
    items.push({
      name: normalizeName(entry.metadata.name),
      displayName: entry.metadata.name,
      version: entry.metadata.version,
      filename,
      sha256,
      kind: filename.endsWith(".whl") ? "wheel" : "sdist",
      requiresDist: entry.metadata.requires_dist ?? [],
      requested: entry.requested,
    });
  }
  return { ok: true, items };
}

/** Which resolved distribution asked for `name`: the parent in a refusal chain. */
export function requirers(items: readonly ResolvedItem[], name: string): Array<{ item: ResolvedItem; requirement: string }> {
  const found = [];
  for (const item of items) {
    for (const line of item.requiresDist) {
      const match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line);
      if (match?.[1] !== undefined && normalizeName(match[1]) === name) found.push({ item, requirement: line.split(";")[0]?.trim() ?? line });
    }
  }
  return found;
}

/** pip's "requirement B>=3 (from A==1.2)" lines, for a chain when resolution itself failed. */
export function failedRequirementChains(stderr: string): Array<{ requirement: string; from: string | undefined }> {
  const chains = [];
  const pattern = /(?:satisfies the requirement|distribution found for) ([^\s(]+(?: ?[<>=!~][^\s(]*)?)(?: \(from ([^)]+)\))?/g;
  for (const match of stderr.matchAll(pattern)) {
    if (match[1] !== undefined) chains.push({ requirement: match[1], from: match[2] });
  }
  return chains;
}
