import { compare, explain, valid } from "@renovatebot/pep440";
import { mentionsPrerelease, versionSatisfies } from "../requirement/version.js";

/** Whether a version is a PEP 440 pre- or dev-release (hidden unless a specifier names one). */
export function isPrerelease(version: string): boolean {
  return explain(version)?.is_prerelease ?? false;
}

/** Whether a specifier set names a pre-release, which per PEP 440 admits pre-releases. */
export const namesPrerelease = mentionsPrerelease;

/** The version a specifier pins exactly (`==X` without a wildcard, or `===X`), else undefined. */
export function exactPin(specifier: string): string | undefined {
  const match = /^(===|==)([^,*]+)$/.exec(specifier.replace(/\s+/g, ""));
  return match?.[2];
}

/**
 * PEP 440 matching where the caller decides about pre-releases for the whole request (a pre-release
 * named by the request or the allowlist admits them on both): "" matches every version but hides
 * pre-releases all the same.
 */
export function matchesSpecifier(version: string, specifier: string, prereleases: boolean): boolean {
  return (prereleases || !isPrerelease(version)) && versionSatisfies(version, specifier, { prereleases: true });
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
  return versionSatisfies(pythonVersion, requiresPython.replace(/\s+/g, ""), { prereleases: true });
}
