/** OSV records for the tests: a malicious-package report, an advisory with ranges, and a feed of many. */
export interface RecordSpec {
  id: string;
  name: string;
  modified?: string;
  withdrawn?: string;
  aliases?: string[];
  summary?: string;
  versions?: string[];
  events?: Record<string, string>[];
}

export function osvRecord(spec: RecordSpec): Record<string, unknown> {
  return {
    schema_version: "1.6.0",
    id: spec.id,
    modified: spec.modified ?? new Date().toISOString(),
    ...(spec.withdrawn === undefined ? {} : { withdrawn: spec.withdrawn }),
    ...(spec.aliases === undefined ? {} : { aliases: spec.aliases }),
    ...(spec.summary === undefined ? {} : { summary: spec.summary }),
    affected: [
      {
        package: { ecosystem: "PyPI", name: spec.name, purl: `pkg:pypi/${spec.name}` },
        ...(spec.events === undefined ? {} : { ranges: [{ type: "ECOSYSTEM", events: spec.events }] }),
        ...(spec.versions === undefined ? {} : { versions: spec.versions }),
        database_specific: { source: "test" },
      },
    ],
  };
}

/** A feed the size of a real ecosystem export: `count` records over distinct names, half of them MAL-*. */
export function generatedFeed(count: number, modified: string): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) =>
    osvRecord(
      i % 2 === 0
        ? { id: `MAL-2026-${i}`, name: `evil-pkg-${i}`, modified, summary: "Malicious code in evil-pkg", events: [{ introduced: "0" }] }
        : {
            id: `GHSA-gen-${i}`,
            name: `lib-${i % 5000}`,
            modified,
            aliases: [`CVE-2026-${i}`],
            events: [{ introduced: "0" }, { fixed: `${(i % 7) + 1}.0` }],
            versions: ["0.1", "0.2", "0.3"],
          },
    ),
  );
}
