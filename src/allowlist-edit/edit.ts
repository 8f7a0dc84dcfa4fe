import { isCollection, isMap, isScalar, parseDocument, Scalar } from "yaml";
import { normalizeName } from "../requirement/index.js";
import { sameData } from "./same-data.js";
import {
  commentBlockStart,
  denyEntries,
  endOfLine,
  findPackage,
  lineAt,
  lineBreak,
  nextLineStart,
  packageEntries,
  parseSource,
  startOfLine,
  topPair,
  type AllowlistSource,
  type PackageEntry,
} from "./source.js";
import { yamlKey, yamlSpecifier, type PackageChange } from "./validate.js";

/**
 * An edit's outcome. `reformatted` is true only when the file's layout was too unusual for a splice and
 * the yaml Document API rewrote it (comments kept, spacing normalised); normally only the edited lines change.
 */
export type EditResult =
  | { ok: true; text: string; action: "added" | "updated" | "unchanged" | "removed"; name: string; previous: string | undefined; reformatted: boolean }
  | { ok: false; error: string };

/**
 * Adds a project, or updates the entry that is the same project under PEP 503 normalisation in place.
 * The edit is a splice of the entry's own line, so every other byte of the file stays as it was; the
 * result is parsed again and must mean exactly the old data plus this change, or the Document API is used.
 */
export function setPackage(text: string, change: PackageChange): EditResult {
  const parsed = parseSource(text);
  if (!parsed.ok)
    return { ok: false, error: `the file is not valid YAML (line ${parsed.errors[0]?.line ?? "?"}: ${parsed.errors[0]?.message ?? ""}); fix it first` };
  const source = parsed.source;
  const denied = denyEntries(source).find((entry) => normalizeName(entry.name) === normalizeName(change.name));
  if (denied !== undefined) {
    const where = denied.offset === undefined ? "" : ` (line ${lineAt(source, denied.offset)})`;
    return {
      ok: false,
      error: `${change.name} is on the deny list${where} as ${JSON.stringify(denied.name)}; the deny list wins over packages, so remove it from deny first if it really is wanted`,
    };
  }
  const existing = findPackage(source, change.name);
  if (existing !== undefined && isMap(existing.pair.value)) {
    // a bound entry ({ version, index }) rewritten as a plain specifier would lose its binding
    return { ok: false, error: `${existing.name} is bound to an index ({ version, index }); change its version by hand so that the binding stays` };
  }
  const key = existing?.name ?? change.name;
  const previous = existing === undefined ? undefined : specText(existing.value);
  if (existing !== undefined && previous === change.specifier && change.reason === undefined) {
    return { ok: true, text, action: "unchanged", name: key, previous, reformatted: false };
  }
  const expected = withPackages(source, (packages) => ({ ...packages, [key]: change.specifier }));
  const spliced = existing === undefined ? spliceAdd(source, change) : spliceUpdate(source, existing, change);
  const action = existing === undefined ? "added" : "updated";
  if (spliced !== undefined && means(spliced, expected)) return { ok: true, text: spliced, action, name: key, previous, reformatted: false };

  // The layout is unusual (a flow mapping, a document marker…): let the Document API write it.
  const doc = parseDocument(text);
  const node = new Scalar(change.specifier);
  node.type = Scalar.QUOTE_DOUBLE;
  if (change.reason !== undefined) node.comment = ` ${change.reason}`;
  if (!isCollection(doc.get("packages", true))) doc.set("packages", doc.createNode({}));
  doc.setIn(["packages", key], node);
  const rewritten = doc.toString();
  if (!means(rewritten, expected)) return { ok: false, error: "could not edit this file without changing other entries; edit it by hand" };
  return { ok: true, text: rewritten, action, name: key, previous, reformatted: true };
}

/** Removes a project (matched under normalisation): its own line goes, the rest of the file stays byte for byte. */
export function removePackage(text: string, name: string): EditResult {
  const parsed = parseSource(text);
  if (!parsed.ok)
    return { ok: false, error: `the file is not valid YAML (line ${parsed.errors[0]?.line ?? "?"}: ${parsed.errors[0]?.message ?? ""}); fix it first` };
  const source = parsed.source;
  const existing = findPackage(source, name);
  if (existing === undefined) return { ok: false, error: `${name} is not on this allowlist` };
  const previous = specText(existing.value);
  const expected = withPackages(source, (packages) => Object.fromEntries(Object.entries(packages).filter(([k]) => k !== existing.name)));
  const spliced = spliceRemove(source, existing);
  if (spliced !== undefined && means(spliced, expected))
    return { ok: true, text: spliced, action: "removed", name: existing.name, previous, reformatted: false };

  const doc = parseDocument(text);
  doc.deleteIn(["packages", existing.name]);
  const rewritten = doc.toString();
  if (!means(rewritten, expected)) return { ok: false, error: "could not edit this file without changing other entries; edit it by hand" };
  return { ok: true, text: rewritten, action: "removed", name: existing.name, previous, reformatted: true };
}

function specText(value: unknown): string {
  return value === null || value === undefined || value === "" ? "*" : String(value);
}

function entryLine(key: string, change: PackageChange): string {
  return `${yamlKey(key)}: ${yamlSpecifier(change.specifier)}${change.reason === undefined ? "" : `  # ${change.reason}`}`;
}

/** Whether text before `offset` on its line is only indentation (a block entry we can cut out whole). */
function ownsLine(text: string, offset: number): boolean {
  return /^[ \t]*$/.test(text.slice(startOfLine(text, offset), offset));
}

function spliceUpdate(source: AllowlistSource, entry: PackageEntry, change: PackageChange): string | undefined {
  const { text } = source;
  const value = entry.pair.value;
  if (value !== null && !isScalar(value)) return undefined;
  const [v0, v1] = value?.range ?? [entry.end, entry.end];
  const written = yamlSpecifier(change.specifier);
  const lineEnd = endOfLine(text, v1);
  const tail = change.reason === undefined ? text.slice(v1, lineEnd) : `  # ${change.reason}`;
  return `${text.slice(0, v0)}${v0 === v1 ? " " : ""}${written}${tail}${text.slice(lineEnd)}`;
}

function spliceAdd(source: AllowlistSource, change: PackageChange): string | undefined {
  const { text } = source;
  const eol = lineBreak(text);
  const packagesPair = topPair(source, "packages");
  if (packagesPair === undefined) {
    if (source.doc.contents !== null && !isMap(source.doc.contents)) return undefined;
    const separator = text === "" || text.endsWith("\n") ? "" : eol;
    return `${text}${separator}packages:${eol}  ${entryLine(change.name, change)}${eol}`;
  }
  const value = packagesPair.value;
  const emptyValue = value === null || (isScalar(value) && value.value === null) || (isMap(value) && value.flow === true && value.items.length === 0);
  if (emptyValue) {
    const keyEnd = isScalar(packagesPair.key) ? (packagesPair.key.range?.[1] ?? 0) : 0;
    const [v0, v1] = (isScalar(value) || isMap(value) ? value.range : undefined) ?? [keyEnd + 1, keyEnd + 1];
    const lineEnd = endOfLine(text, Math.max(v1, keyEnd));
    const tail = text.slice(v1, lineEnd);
    const before = tail.trim() === "" ? text.slice(0, v0).replace(/[ \t]+$/, "") : text.slice(0, v0);
    const indent = " ".repeat(startOfKeyColumn(text, keyEnd) + 2);
    return `${before}${tail.trim() === "" ? "" : tail}${eol}${indent}${entryLine(change.name, change)}${text.slice(lineEnd)}`;
  }
  if (!isMap(value) || value.flow === true) return undefined;
  const entries = packageEntries(source);
  const first = entries[0];
  const last = entries.at(-1);
  if (first === undefined || last === undefined || !entries.every((entry) => ownsLine(text, entry.start))) return undefined;
  const indent = text.slice(startOfLine(text, first.start), first.start);
  const line = `${indent}${entryLine(change.name, change)}${eol}`;

  const names = entries.map((entry) => normalizeName(entry.name));
  const sorted = names.every((name, i) => i === 0 || (names[i - 1] ?? "") <= name);
  const wanted = normalizeName(change.name);
  const next = sorted ? entries.find((entry) => normalizeName(entry.name) > wanted) : undefined;
  if (next !== undefined) {
    const at = commentBlockStart(text, startOfLine(text, next.start));
    return `${text.slice(0, at)}${line}${text.slice(at)}`;
  }
  if (endOfLine(text, last.end) === text.length) return `${text}${eol}${line.slice(0, -eol.length)}`;
  const at = nextLineStart(text, last.end);
  return `${text.slice(0, at)}${line}${text.slice(at)}`;
}

function spliceRemove(source: AllowlistSource, entry: PackageEntry): string | undefined {
  const { text } = source;
  const value = topPair(source, "packages")?.value;
  if (!isMap(value) || value.flow === true) return undefined;
  const entries = packageEntries(source);
  if (!entries.every((other) => ownsLine(text, other.start))) return undefined;
  const from = startOfLine(text, entry.start);
  const to = nextLineStart(text, entry.end);
  let result = `${text.slice(0, from)}${text.slice(to)}`;
  if (entries.length === 1) {
    // An empty block would read as `packages: null`, which the schema refuses: say `{}` instead.
    const key = topPair(source, "packages")?.key;
    const keyEnd = isScalar(key) ? (key.range?.[1] ?? -1) : -1;
    const colon = result.indexOf(":", keyEnd);
    if (keyEnd < 0 || colon < 0) return undefined;
    result = `${result.slice(0, colon + 1)} {}${result.slice(colon + 1)}`;
  }
  return result;
}

function startOfKeyColumn(text: string, offset: number): number {
  const lineStart = startOfLine(text, offset);
  return (/^[ \t]*/.exec(text.slice(lineStart, offset))?.[0] ?? "").length;
}

function withPackages(source: AllowlistSource, change: (packages: Record<string, unknown>) => Record<string, unknown>): unknown {
  const data = (source.doc.toJS() ?? {}) as Record<string, unknown>;
  const packages = data.packages !== null && typeof data.packages === "object" ? (data.packages as Record<string, unknown>) : {};
  return { ...data, packages: change(packages) };
}

/** Whether new text parses to exactly the expected data: the proof that a splice changed only what it meant to. */
function means(text: string, expected: unknown): boolean {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return false;
  return sameData(doc.toJS() ?? {}, expected);
}
