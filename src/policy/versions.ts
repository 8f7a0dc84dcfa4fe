import { compare, explain, satisfies, valid } from "@renovatebot/pep440";

/** Whether a version is a PEP 440 pre- or dev-release (hidden unless a specifier names one). */
export function isPrerelease(version: string): boolean {
  return explain(version)?.is_prerelease ?? false;
}

/** Whether any clause of a specifier set names a pre-release, which per PEP 440 admits pre-releases. */
export function namesPrerelease(specifier: string): boolean {
  return specifier
    .split(",")
    .map((clause) => clause.replace(/^[=!<>~]+/, ""))
    .some((version) => valid(version.replace(/\.\*$/, "")) !== null && isPrerelease(version));
}

/** The version a specifier pins exactly (`==X` without a wildcard, or `===X`), else undefined. */
export function exactPin(specifier: string): string | undefined {
  const match = /^(===|==)([^,*]+)$/.exec(specifier.replace(/\s+/g, ""));
  return match?.[2];
}

/** PEP 440 matching of a version against a specifier set ("" matches every version). */
export function matchesSpecifier(version: string, specifier: string, prereleases: boolean): boolean {
  if (specifier === "") return prereleases || !isPrerelease(version);
  const arbitrary = /^===(.+)$/.exec(specifier);
  if (arbitrary !== null) return arbitrary[1] === version;
  return satisfies(version, specifier, { prereleases: true }) && (prereleases || !isPrerelease(version));
}

/** Valid versions, newest first. */
export function newestFirst(versions: readonly string[]): string[] {
  return [...new Set(versions)].filter((version) => valid(version) !== null).sort((a, b) => compare(b, a));
}

/** PEP 440 comparison, re-exported so policy files share one notion of order. */
export function compareVersions(a: string, b: string): number {
  return compare(a, b);
}

/** requires-python against an interpreter version; an unparsable constraint is treated as not met (fail closed). */
export function pythonSatisfies(pythonVersion: string, requiresPython: string | undefined): boolean {
  if (requiresPython === undefined || requiresPython.trim() === "") return true;
  return satisfies(pythonVersion, requiresPython.replace(/\s+/g, ""), { prereleases: true });
}
