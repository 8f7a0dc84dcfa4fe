import { compare, valid } from "@renovatebot/pep440";
import type { OsvAffected, OsvEvent } from "./osv-record.js";

const TIE_ORDER: Record<OsvEvent["kind"], number> = { introduced: 0, last_affected: 1, fixed: 2, limit: 3 };

/**
 * Whether an OSV `affected` entry covers a version, by OSV's ECOSYSTEM semantics with PEP 440 order:
 * the events of a range are sorted by version ("0" first) and walked — introduced ≤ v turns affected
 * on, fixed ≤ v and last_affected < v turn it off, a limit ≤ v ends the range — and any range or an
 * explicit `versions` entry suffices. Fail closed: an event version that is not PEP 440, or an entry
 * with neither ranges nor versions, counts as affecting every version.
 */
export function affectsVersion(affected: OsvAffected, version: string): boolean {
  if (affected.ranges.length === 0 && affected.versions.length === 0) return true;
  if (affected.versions.some((listed) => sameVersion(listed, version))) return true;
  return affected.ranges.some((events) => rangeAffects(events, version));
}

function rangeAffects(events: readonly OsvEvent[], version: string): boolean {
  if (events.some((event) => event.version !== "0" && valid(event.version) === null)) return true;
  const sorted = [...events].sort((a, b) => order(a.version, b.version) || TIE_ORDER[a.kind] - TIE_ORDER[b.kind]);
  let affected = false;
  for (const event of sorted) {
    const atOrBelow = event.version === "0" || compare(event.version, version) <= 0;
    switch (event.kind) {
      case "introduced":
        if (atOrBelow) affected = true;
        break;
      case "fixed":
        if (atOrBelow) affected = false;
        break;
      case "last_affected":
        if (atOrBelow && compare(event.version, version) < 0) affected = false;
        break;
      case "limit":
        if (atOrBelow) return false;
        break;
    }
  }
  return affected;
}

function order(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "0") return -1;
  if (b === "0") return 1;
  return compare(a, b);
}

function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  return valid(a) !== null && valid(b) !== null && compare(a, b) === 0;
}
