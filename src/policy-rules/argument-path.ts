import { posix } from "node:path";

/** The longest path value a prefix condition looks at; a longer one fails it. */
export const PATH_VALUE_MAX = 4096;

export type Lookup = { found: true; value: unknown } | { found: false };

/**
 * The argument a condition names: a top-level key, or a dotted path through nested plain objects. Own
 * keys only (a hostile `__proto__` or `constructor` key is just a key), no array indexes, no coercion.
 */
export function lookupArgument(args: unknown, path: string): Lookup {
  let node: unknown = args;
  for (const key of path.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node) || !Object.hasOwn(node, key)) return { found: false };
    node = (node as Record<string, unknown>)[key];
  }
  // JSON has no undefined: an explicit undefined (only possible in-process) counts as missing
  return node === undefined ? { found: false } : { found: true, value: node };
}

export type NormalisedPath = { ok: true; path: string } | { ok: false; error: string };

/**
 * A path argument as the comparison sees it: `.` and `..` resolved, slashes collapsed, no trailing
 * slash. Relative paths are resolved against `baseDir` (the upstream's working directory) or refused;
 * NUL, a leading `~` (the upstream may expand it to a home directory) and over-long values are refused.
 * Lexical only: symbolic links are not followed (the policy engine never touches the file system).
 */
export function normalisePathValue(value: string, baseDir: string | undefined): NormalisedPath {
  if (value.length === 0) return { ok: false, error: "is empty" };
  if (value.length > PATH_VALUE_MAX) return { ok: false, error: `is longer than ${PATH_VALUE_MAX} characters` };
  if (value.includes("\0")) return { ok: false, error: "contains a NUL character" };
  if (value.startsWith("~")) return { ok: false, error: "starts with '~' (home-directory paths are refused)" };
  let absolute = value;
  if (!value.startsWith("/")) {
    if (baseDir === undefined) return { ok: false, error: "is a relative path, and the rule has no base_dir to resolve it against" };
    absolute = posix.join(baseDir, value);
  }
  const normal = posix.normalize(absolute);
  return { ok: true, path: normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal };
}

/** Whether a normalised path is `prefix` itself or inside it, by whole segments (/work2 is not under /work). */
export function isUnder(path: string, prefix: string): boolean {
  if (prefix === "/") return path.startsWith("/");
  return path === prefix || path.startsWith(`${prefix}/`);
}
