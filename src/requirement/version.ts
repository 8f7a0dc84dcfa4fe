import { explain, satisfies, valid, validRange } from "@renovatebot/pep440";

/** Whether a string is a PEP 440 version; index pages and allowlists carry arbitrary text. */
export function isValidVersion(v: string): boolean {
  return valid(v) !== null;
}

/** Options for versionSatisfies: `prereleases` overrides PEP 440's default (see below). */
export interface SatisfiesOptions {
  prereleases?: boolean;
}

/** The operators whose clause admits pre-releases when its version is one (as pip's packaging decides). */
const PRERELEASE_OPERATORS = new Set(["==", ">=", "<=", "~=", "==="]);
const CLAUSE = /^\s*(===|~=|==|!=|<=|>=|<|>)\s*(.*?)\s*$/;

/** Whether a specifier set names a pre-release, which is what lets pre-releases match it by default. */
export function mentionsPrerelease(specifier: string): boolean {
  return specifier.split(",").some((clause) => {
    const match = CLAUSE.exec(clause);
    if (match === null || !PRERELEASE_OPERATORS.has(match[1] ?? "")) return false;
    return explain((match[2] ?? "").replace(/\.\*$/, ""))?.is_prerelease === true;
  });
}

/**
 * Whether `version` lies in `specifier`, by PEP 440: "" means any version; otherwise pre-releases
 * (and dev releases) match only when a clause names one, unless `options.prereleases` says otherwise.
 * An invalid version or specifier never matches: policy fails closed.
 */
export function versionSatisfies(version: string, specifier: string, options: SatisfiesOptions = {}): boolean {
  if (!isValidVersion(version)) return false;
  if (specifier.trim() === "") return true;
  if (!validRange(specifier)) return false;
  const prereleases = options.prereleases ?? mentionsPrerelease(specifier);
  if (explain(version)?.is_prerelease === true && !prereleases) return false;
  return specifier.split(",").every((clause) => {
    const [, operator, operand] = CLAUSE.exec(clause) ?? [];
    // "===" is string equality (PEP 440's arbitrary equality); the library would compare versions.
    if (operator === "===") return version.toLowerCase() === (operand ?? "").toLowerCase();
    return satisfies(version, clause, { prereleases: true });
  });
}
