import { isScalar, parseDocument } from "yaml";
import { isValidSpecifier, normalizeSpecifier } from "../config/allowlist.js";
import type { Result } from "../errors.js";
import { isValidName } from "../requirement/index.js";

/** What a maintainer asked for, checked: PEP 508 name, PEP 440 specifier set or "*", a one-line reason. */
export interface PackageChange {
  name: string;
  /** as it will be written: the trimmed specifier set, or "*" for any version */
  specifier: string;
  reason: string | undefined;
}

/** Checks the arguments of `add` (and each line of `import`) before anything reads or writes a file. */
export function checkChange(name: string, specifier: string, reason?: string): Result<PackageChange> {
  if (!isValidName(name)) {
    return { ok: false, error: `${JSON.stringify(name)} is not a valid project name: ASCII letters and digits, with ".", "-" or "_" only between them` };
  }
  const trimmed = specifier.trim();
  const compact = normalizeSpecifier(trimmed);
  if (compact !== "" && !isValidSpecifier(compact)) {
    return {
      ok: false,
      error: `${JSON.stringify(specifier)} is not a PEP 440 specifier set; write e.g. ">=2.31,<3", "==1.26.4", "~=1.4" or "*" for any version`,
    };
  }
  // eslint-disable-next-line no-control-regex
  const oneLine = reason?.replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim();
  return { ok: true, value: { name, specifier: compact === "" ? "*" : trimmed, reason: oneLine === "" ? undefined : oneLine } };
}

/** The key as YAML must spell it: plain when it reads back as the same string, double-quoted otherwise ("true", "1e5"). */
export function yamlKey(name: string): string {
  const contents = parseDocument(name).contents;
  return isScalar(contents) && contents.value === name ? name : JSON.stringify(name);
}

/** Specifiers are always written double-quoted: ">=" and "*" cannot start a plain scalar, and one style reads best. */
export function yamlSpecifier(specifier: string): string {
  return JSON.stringify(specifier);
}
