import type { InstalledDist } from "./interpreter.js";
import { dependencyApplies, parseDependency, type Dependency } from "../requirement/dependency.js";
import type { MarkerEnvironment } from "../requirement/marker.js";
import { normalizeName } from "../requirement/name.js";
import { versionSatisfies } from "../requirement/version.js";

/** A distribution an install brings; `requires` (its Requires-Dist) when the caller has read it. */
export interface IncomingDist {
  name: string;
  version: string;
  requires?: readonly string[];
}

/**
 * What an install would break in the target, each as a sentence naming who requires what:
 * - an installed distribution that stays, whose requirement the incoming set no longer satisfies;
 * - an incoming distribution whose requirement the environment after the install does not satisfy
 *   (a version installed that does not fit, or nothing at all).
 * pip only warns about these after the fact; pipgate refuses instead. Markers are evaluated against
 * the target interpreter's values. Extras are taken as not requested (`extra == "x"` requirements do
 * not apply), as `pip check` evaluates installed requirements: which extras an installed distribution
 * was asked for is not recorded anywhere. Pre-releases satisfy a specifier here, as pip accepts an
 * installed pre-release.
 */
export function brokenRequirements(installed: readonly InstalledDist[], incoming: readonly IncomingDist[], environment: MarkerEnvironment): string[] {
  const arriving = new Map(incoming.map((dist) => [normalizeName(dist.name), dist]));
  const staying = installed.filter((dist) => !arriving.has(normalizeName(dist.name)));
  const problems: string[] = [];
  for (const dist of staying) {
    for (const dependency of applying(dist.requires, environment)) {
      const arrival = arriving.get(dependency.normalized);
      if (arrival === undefined || satisfied(arrival.version, dependency)) continue;
      problems.push(
        `${dist.name} ${dist.version} (installed) requires ${shown(dependency)}, but this install would bring ${dependency.normalized} ${arrival.version}`,
      );
    }
  }
  const after = new Map<string, { version: string; installed: boolean }>();
  for (const dist of staying) after.set(normalizeName(dist.name), { version: dist.version, installed: true });
  for (const [key, dist] of arriving) after.set(key, { version: dist.version, installed: false });
  for (const dist of incoming) {
    for (const dependency of applying(dist.requires ?? [], environment)) {
      const target = after.get(dependency.normalized);
      if (target === undefined) {
        problems.push(`${dist.name} ${dist.version} requires ${shown(dependency)}, which is neither installed nor part of this install`);
      } else if (!satisfied(target.version, dependency)) {
        const where = target.installed ? "is installed" : "would come with this install";
        problems.push(`${dist.name} ${dist.version} requires ${shown(dependency)}, but ${dependency.normalized} ${target.version} ${where}`);
      }
    }
  }
  return problems;
}

/**
 * The requirements that apply to this interpreter. An unreadable line is left out: it is metadata
 * already installed (or verified), and pip itself would not have read it either.
 */
function applying(lines: readonly string[], environment: MarkerEnvironment): Dependency[] {
  const out: Dependency[] = [];
  for (const line of lines) {
    const parsed = parseDependency(line);
    if (parsed.ok && dependencyApplies(parsed.value, { environment, extra: "" })) out.push(parsed.value);
  }
  return out;
}

function satisfied(version: string, dependency: Dependency): boolean {
  return versionSatisfies(version, dependency.specifier, { prereleases: true });
}

function shown(dependency: Dependency): string {
  const marker = dependency.marker === undefined || dependency.marker === "" ? "" : ` (for ${dependency.marker})`;
  return `${dependency.name}${dependency.specifier}${marker}`;
}
