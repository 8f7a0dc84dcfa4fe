import type { OsvAdvisory } from "./osv-record.js";
import { affectsVersion } from "./osv-ranges.js";

/** What the database knows about one release: malicious-package reports apart from ordinary advisories. */
export interface OsvMatches {
  malicious: OsvAdvisory[];
  vulnerabilities: OsvAdvisory[];
}

/**
 * An indexed, immutable OSV database as loaded at one moment: where it came from, how many records it
 * holds, how fresh it is (the newest `modified` of its records), and a lookup by name and version.
 */
export interface OsvSnapshot {
  path: string;
  records: number;
  /** advisories skipped because they were withdrawn */
  withdrawn: number;
  /** distinct PyPI projects named */
  projects: number;
  /** the newest `modified` among the records: the data's own age, unlike file times a copy resets */
  newestModified: Date | undefined;
  loadedAt: Date;
  lookup(name: string, version: string): OsvMatches;
}

/** Indexes advisories by normalised project name; withdrawn ones are counted and left out. */
export function buildOsvIndex(path: string, advisories: readonly OsvAdvisory[], loadedAt: Date): OsvSnapshot {
  const byName = new Map<string, OsvAdvisory[]>();
  let withdrawn = 0;
  let newest: number | undefined;
  for (const advisory of advisories) {
    const modified = advisory.modified?.getTime();
    if (modified !== undefined && (newest === undefined || modified > newest)) newest = modified;
    if (advisory.withdrawn !== undefined) {
      withdrawn += 1;
      continue;
    }
    for (const name of new Set(advisory.affected.map((entry) => entry.name))) {
      const list = byName.get(name);
      if (list === undefined) byName.set(name, [advisory]);
      else list.push(advisory);
    }
  }
  return {
    path,
    records: advisories.length,
    withdrawn,
    projects: byName.size,
    newestModified: newest === undefined ? undefined : new Date(newest),
    loadedAt,
    lookup(name, version) {
      const matches: OsvMatches = { malicious: [], vulnerabilities: [] };
      for (const advisory of byName.get(name) ?? []) {
        const hit = advisory.affected.some((entry) => entry.name === name && affectsVersion(entry, version));
        if (!hit) continue;
        (advisory.malicious ? matches.malicious : matches.vulnerabilities).push(advisory);
      }
      return matches;
    },
  };
}
