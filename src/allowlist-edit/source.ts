import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Pair, type YAMLMap } from "yaml";
import { normalizeName } from "../requirement/index.js";

/** A parsed allowlist file that still knows where every node came from, so edits can touch only their own bytes. */
export interface AllowlistSource {
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** A file that is not valid YAML is an expected failure (a maintainer mid-edit), so it is a value. */
export type SourceResult = { ok: true; source: AllowlistSource } | { ok: false; errors: Array<{ line: number | undefined; message: string }> };

/** One `packages:` entry as written, with its place in the file. */
export interface PackageEntry {
  pair: Pair;
  /** the key as written (e.g. "Foo_Bar") */
  name: string;
  /** the specifier as written; null for an empty value */
  value: unknown;
  /** [start of the key, end of the value (before any trailing comment)] */
  start: number;
  end: number;
}

/** Parses with positions kept; a file that is not valid YAML cannot be edited safely, so it is an error value. */
export function parseSource(text: string): SourceResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, keepSourceTokens: false });
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((error) => ({ line: error.linePos?.[0].line, message: error.message.split("\n")[0] ?? error.message })) };
  }
  return { ok: true, source: { text, doc, lines } };
}

/** The 1-based line of a source offset. */
export function lineAt(source: AllowlistSource, offset: number): number {
  return source.lines.linePos(offset).line;
}

/** The top-level pair for `key`, if the document is a mapping that has it. */
export function topPair(source: AllowlistSource, key: string): Pair | undefined {
  const contents = source.doc.contents;
  if (!isMap(contents)) return undefined;
  return contents.items.find((pair) => isScalar(pair.key) && pair.key.value === key);
}

/** The `packages:` block mapping, if it is one. */
export function packagesMap(source: AllowlistSource): YAMLMap | undefined {
  const value = topPair(source, "packages")?.value;
  return isMap(value) ? value : undefined;
}

/** Every entry of `packages:` in file order (entries with a non-scalar key are skipped: lint reports them). */
export function packageEntries(source: AllowlistSource): PackageEntry[] {
  const map = packagesMap(source);
  if (map === undefined) return [];
  const entries: PackageEntry[] = [];
  for (const pair of map.items) {
    if (!isPair(pair) || !isScalar(pair.key) || pair.key.range === undefined || pair.key.range === null) continue;
    const keyRange = pair.key.range;
    const valueNode = pair.value;
    const end = isScalar(valueNode) || isMap(valueNode) ? (valueNode.range?.[1] ?? keyRange[1]) : keyRange[1];
    entries.push({
      pair,
      name: String(pair.key.value),
      value: isScalar(valueNode) ? valueNode.value : valueNode === null ? null : valueNode,
      start: keyRange[0],
      end,
    });
  }
  return entries;
}

/** The entry for a project under PEP 503 normalisation: `Foo_Bar` and `foo-bar` are one project. */
export function findPackage(source: AllowlistSource, name: string): PackageEntry | undefined {
  const wanted = normalizeName(name);
  return packageEntries(source).find((entry) => normalizeName(entry.name) === wanted);
}

/** The inline comment of an entry (the words after `#` on its own line), for `show`. */
export function entryComment(source: AllowlistSource, entry: PackageEntry): string {
  const lineEnd = endOfLine(source.text, entry.end);
  const tail = source.text.slice(entry.end, lineEnd);
  const match = /^\s*#\s?(.*)$/.exec(tail);
  return match?.[1]?.trim() ?? "";
}

/** The names under `deny:` as written, with their offsets. */
export function denyEntries(source: AllowlistSource): Array<{ name: string; offset: number | undefined }> {
  const value = topPair(source, "deny")?.value;
  const items = value !== null && typeof value === "object" && "items" in value && Array.isArray(value.items) ? (value.items as unknown[]) : [];
  return items.filter(isScalar).map((item) => ({ name: String(item.value), offset: item.range?.[0] }));
}

/** Offset of the line break ("\n" or "\r\n") ending the line that holds `offset` (or the end of the text). */
export function endOfLine(text: string, offset: number): number {
  const newline = text.indexOf("\n", offset);
  if (newline < 0) return text.length;
  return newline > offset && text[newline - 1] === "\r" ? newline - 1 : newline;
}

/** Offset of the first character after the line break of the line that holds `offset` (or the end of the text). */
export function nextLineStart(text: string, offset: number): number {
  const newline = text.indexOf("\n", offset);
  return newline < 0 ? text.length : newline + 1;
}

/** The file's own line break, so that a line added to a CRLF file ends like its neighbours. */
export function lineBreak(text: string): string {
  return text.includes("\r\n") ? "\r\n" : "\n";
}

/** Offset of the first character of the line that holds `offset`. */
export function startOfLine(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** Where the comment lines directly above a line begin: a comment above a key belongs to that key. */
export function commentBlockStart(text: string, lineStart: number): number {
  let at = lineStart;
  while (at > 0) {
    const previous = startOfLine(text, at - 1);
    if (!text.slice(previous, at).trimStart().startsWith("#")) break;
    at = previous;
  }
  return at;
}
