import type { InstalledDist } from "../commit/interpreter.js";
import { parseRequirement, versionSatisfies } from "../requirement/index.js";
import { normalizeName } from "../requirement/name.js";

/**
 * What an install would break in the target: an installed distribution that stays, whose requirement
 * the incoming set no longer satisfies. pip only warns about these after the fact; pipgate refuses
 * instead. Requirements with environment markers are left out (they may not apply to this interpreter),
 * so what is reported is always a real conflict.
 */
export function brokenRequirements(installed: readonly InstalledDist[], incoming: ReadonlyArray<{ name: string; version: string }>): string[] {
  const arriving = new Map(incoming.map((dist) => [normalizeName(dist.name), dist.version]));
  const problems: string[] = [];
  for (const dist of installed) {
    if (arriving.has(normalizeName(dist.name))) continue; // replaced by the install itself
    for (const line of dist.requires) {
      if (line.includes(";")) continue;
      const parsed = parseRequirement(line);
      if (!parsed.ok) continue;
      const version = arriving.get(parsed.requirement.normalized);
      if (version === undefined || versionSatisfies(version, parsed.requirement.specifier, { prereleases: true })) continue;
      problems.push(`${dist.name} ${dist.version} (installed) requires ${parsed.requirement.name}${parsed.requirement.specifier}, but this install would bring ${parsed.requirement.normalized} ${version}`);
    }
  }
  return problems;
}
