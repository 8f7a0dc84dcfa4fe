import type { Allowlist } from "../config/allowlist.js";
import { requirers, type ResolvedItem } from "../pipeline/pip-report.js";
import { parseRequirement, versionSatisfies } from "../requirement/index.js";

/**
 * `allowlist add --with-deps`: which entries the resolved closure of a project adds, each with the
 * specifier the maintainer chose (an exact pin, or the ranges its requirers state) and the comment that
 * says why it is there. Pure: the resolution happened in the sandbox before.
 */

export const CLOSURE_STYLES = ["pins", "ranges"] as const;
export type ClosureStyle = (typeof CLOSURE_STYLES)[number];

export interface ClosureEntry {
  /** normalised name */
  name: string;
  version: string;
  specifier: string;
  /** the comment written beside the entry: "requests 2.32.3 requires idna<4,>=2.5" */
  reason: string;
  /** the entry it replaces, when the project was listed at a specifier that excludes this version */
  previous: string | undefined;
}

/** The specifier of one requirement line ("idna<4,>=2.5" → "<4,>=2.5"); "" when it names no version. */
function specifierOf(requirement: string): string {
  const parsed = parseRequirement(requirement);
  return parsed.ok ? parsed.requirement.specifier : "";
}

/**
 * Every resolved distribution except `root` that the allowlist does not already allow at its resolved
 * version, in the set's order. `ranges`: the requirers' specifiers joined (pip satisfied them all, so
 * the resolved version is inside), or "*" when none states one.
 */
export function closureEntries(items: readonly ResolvedItem[], root: string, allowlist: Allowlist, style: ClosureStyle): ClosureEntry[] {
  const entries: ClosureEntry[] = [];
  for (const item of items) {
    if (item.name === root) continue;
    const listed = allowlist.packages.get(item.name);
    if (listed !== undefined && versionSatisfies(item.version, listed.specifier)) continue;
    const parents = requirers(items, item.name);
    const reason =
      parents.length === 0
        ? `resolved with ${root}`
        : parents.map(({ item: parent, requirement }) => `${parent.displayName} ${parent.version} requires ${requirement}`).join("; ");
    const ranges = [...new Set(parents.map(({ requirement }) => specifierOf(requirement)).filter((spec) => spec !== ""))].join(",");
    const specifier = style === "pins" ? `==${item.version}` : ranges === "" ? "*" : ranges;
    entries.push({ name: item.name, version: item.version, specifier, reason, previous: listed?.specifier });
  }
  return entries;
}
