import { isMap, isScalar, parseDocument } from "yaml";
import { normalizeName } from "../requirement/index.js";
import { sameData } from "./same-data.js";
import {
  commentBlockStart,
  endOfLine,
  lineBreak,
  nextLineStart,
  packageEntries,
  startOfLine,
  topPair,
  type AllowlistSource,
  type PackageEntry,
} from "./source.js";
import { yamlKey, yamlSpecifier, type PackageChange } from "./validate.js";

/** One change of a bulk edit: an existing entry to re-pin, or (entry undefined) a project to add. */
export interface BulkChange {
  change: PackageChange;
  entry: PackageEntry | undefined;
}

/**
 * Many edits of `packages:` in one pass over one parse, for a sync of hundreds of pins (one
 * setPackage per pin re-parses the file each time: quadratic). The splices are edit.ts's — the value
 * and comment of an updated entry's own line, a new entry's own line at its sorted place or after the
 * last — and the result must parse to exactly the old data plus these changes; otherwise (an unusual
 * layout) undefined, and the caller edits one pin at a time.
 */
export function bulkEdit(source: AllowlistSource, changes: readonly BulkChange[]): string | undefined {
  const { text } = source;
  const packages = topPair(source, "packages")?.value;
  const entries = packageEntries(source);
  const first = entries[0];
  const last = entries.at(-1);
  if (!isMap(packages) || packages.flow === true || first === undefined || last === undefined) return undefined;
  if (!entries.every((entry) => /^[ \t]*$/.test(text.slice(startOfLine(text, entry.start), entry.start)))) return undefined;
  const eol = lineBreak(text);
  const indent = text.slice(startOfLine(text, first.start), first.start);
  const line = (key: string, change: PackageChange) =>
    `${yamlKey(key)}: ${yamlSpecifier(change.specifier)}${change.reason === undefined ? "" : `  # ${change.reason}`}`;

  const splices = new Map<number, { to: number; text: string }>();
  const insert = (at: number, added: string) => {
    const existing = splices.get(at);
    if (existing !== undefined && existing.to !== at) return false;
    splices.set(at, { to: at, text: `${existing?.text ?? ""}${added}` });
    return true;
  };
  for (const { change, entry } of changes) {
    if (entry === undefined) continue;
    const value = entry.pair.value;
    if (value !== null && !isScalar(value)) return undefined;
    const [v0, v1] = value?.range ?? [entry.end, entry.end];
    if (splices.has(v0)) return undefined;
    const written = `${v0 === v1 ? " " : ""}${yamlSpecifier(change.specifier)}${change.reason === undefined ? text.slice(v1, endOfLine(text, v1)) : `  # ${change.reason}`}`;
    splices.set(v0, { to: endOfLine(text, v1), text: written });
  }

  const names = entries.map((entry) => normalizeName(entry.name));
  const sorted = names.every((name, i) => i === 0 || (names[i - 1] ?? "") <= name);
  // in a sorted list each goes to its place (those at one place in order); otherwise after the last, in the given order
  const additions = changes.filter((change) => change.entry === undefined);
  if (sorted) additions.sort((a, b) => compare(a.change.name, b.change.name));
  const lastLineEnds = endOfLine(text, last.end) === text.length;
  for (const { change } of additions) {
    const wanted = normalizeName(change.name);
    const next = sorted ? entries.find((entry) => normalizeName(entry.name) > wanted) : undefined;
    const ok =
      next !== undefined
        ? insert(commentBlockStart(text, startOfLine(text, next.start)), `${indent}${line(change.name, change)}${eol}`)
        : lastLineEnds
          ? insert(text.length, `${eol}${indent}${line(change.name, change)}`)
          : insert(nextLineStart(text, last.end), `${indent}${line(change.name, change)}${eol}`);
    if (!ok) return undefined;
  }

  let result = text;
  for (const [from, splice] of [...splices.entries()].sort((a, b) => b[0] - a[0])) result = `${result.slice(0, from)}${splice.text}${result.slice(splice.to)}`;

  const data = (source.doc.toJS() ?? {}) as Record<string, unknown>;
  const expected = { ...data, packages: { ...(data.packages as Record<string, unknown>) } };
  for (const { change, entry } of changes) expected.packages[entry?.name ?? change.name] = change.specifier;
  const doc = parseDocument(result);
  return doc.errors.length === 0 && sameData(doc.toJS() ?? {}, expected) ? result : undefined;
}

function compare(a: string, b: string): number {
  const x = normalizeName(a);
  const y = normalizeName(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
