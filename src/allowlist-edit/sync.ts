import { normalizeSpecifier } from "../config/allowlist.js";
import { isPrerelease } from "../policy/versions.js";
import { normalizeName, versionSatisfies } from "../requirement/index.js";
import { bulkEdit, type BulkChange } from "./bulk-edit.js";
import { setPackage } from "./edit.js";
import { checkChange } from "./validate.js";
import { lockRequested, type LockedPin } from "./lock-file.js";
import { denyEntries, entryComment, findPackage, lineAt, parseSource } from "./source.js";
import { hasRequestedMark, pinComment, type SourcePin } from "./venv-pins.js";

/**
 * What sync does to one project:
 * - `added`: not on the allowlist; now pinned exactly;
 * - `updated`: its specifier did not admit the source's version (an old pin, a range that excludes it):
 *   now pinned exactly, the old specifier kept in the comment;
 * - `kept`: a range (or "*") the maintainer wrote already admits the version: left as written;
 * - `unchanged`: already pinned to exactly that version.
 */
export type SyncAction = "added" | "updated" | "kept" | "unchanged";

/** One line of sync's report, in the snake_case of `--json`. */
export interface SyncChange {
  name: string;
  action: SyncAction;
  previous: string | null;
  specifier: string;
  comment: string | null;
}

export type SyncPlan = { ok: true; text: string; changes: SyncChange[] } | { ok: false; errors: string[] };

/**
 * The allowlist text with every pin of the source applied, and what changed: sync adds and updates,
 * never removes (an entry the source lacks may be wanted; `allowlist lint` reports what nothing needs).
 * Each edit is edit.ts's splice, so every other byte of the file stays; a pin sync cannot apply (a
 * deny-listed name) fails the whole plan, so a sync writes all of the source or nothing.
 */
export function planSync(text: string, pins: readonly SourcePin[]): SyncPlan {
  const original = parseSource(text);
  if (!original.ok)
    return {
      ok: false,
      errors: [`the allowlist is not valid YAML (line ${original.errors[0]?.line ?? "?"}: ${original.errors[0]?.message ?? ""}); fix it first`],
    };
  const denied = new Map(denyEntries(original.source).map((entry) => [normalizeName(entry.name), entry]));
  const errors: string[] = [];
  for (const pin of pins) {
    const entry = denied.get(normalizeName(pin.name));
    if (entry === undefined) continue;
    const where = entry.offset === undefined ? "" : ` (line ${lineAt(original.source, entry.offset)})`;
    errors.push(
      `${pin.name} (${pin.origin}) is on the deny list${where} as ${JSON.stringify(entry.name)}, which wins over packages: remove it from deny first if it really is wanted`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };

  // Every decision is taken against the file as it is: the source names each project once.
  const changes: SyncChange[] = [];
  const edits: BulkChange[] = [];
  const seen = new Set<string>();
  for (const pin of pins) {
    const key = normalizeName(pin.name);
    if (seen.has(key)) {
      errors.push(`${pin.name} (${pin.origin}): the source names this project twice`);
      continue;
    }
    seen.add(key);
    const wanted = `${pin.operator}${pin.version}`;
    const existing = findPackage(original.source, pin.name);
    const previous = existing === undefined ? undefined : specText(existing.value);
    const name = existing?.name ?? pin.name;
    if (previous !== undefined && normalizeSpecifier(previous) === wanted) {
      changes.push({ name, action: "unchanged", previous, specifier: previous, comment: null });
      continue;
    }
    const admits = pin.operator === "==" && !isPrerelease(pin.version) && versionSatisfies(pin.version, normalizeSpecifier(previous ?? ""));
    if (previous !== undefined && !isExact(previous) && admits) {
      changes.push({ name, action: "kept", previous, specifier: previous, comment: null });
      continue;
    }
    const oldComment = existing === undefined ? "" : entryComment(original.source, existing);
    const comment = pinComment({ ...pin, requested: pin.requested || hasRequestedMark(oldComment) }, previous);
    const change = checkChange(name, wanted, comment);
    if (!change.ok) {
      errors.push(`${pin.name} (${pin.origin}): ${change.error}`);
      continue;
    }
    edits.push({ change: change.value, entry: existing });
    changes.push({
      name,
      action: existing === undefined ? "added" : "updated",
      previous: previous ?? null,
      specifier: wanted,
      comment: change.value.reason ?? null,
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  if (edits.length === 0) return { ok: true, text, changes };

  // One pass when the layout allows it; else edit.ts one pin at a time (it handles every layout).
  const bulk = bulkEdit(original.source, edits);
  if (bulk !== undefined) return { ok: true, text: bulk, changes };
  // A file with no entries yet: the first one through edit.ts gives the block the rest can join.
  const [head, ...rest] = edits;
  if (head !== undefined && head.entry === undefined && rest.every((edit) => edit.entry === undefined)) {
    const started = setPackage(text, head.change);
    const reparsed = started.ok ? parseSource(started.text) : undefined;
    const joined = reparsed?.ok === true ? bulkEdit(reparsed.source, rest) : undefined;
    if (joined !== undefined) return { ok: true, text: joined, changes };
  }
  let current = text;
  for (const { change } of edits) {
    const result = setPackage(current, change);
    if (!result.ok) errors.push(`${change.name}: ${result.error}`);
    else current = result.text;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, text: current, changes };
}

/** A lock file's pins as sync's source: the origin names the file and line, pip-compile's `# via` says who asked. */
export function pinsFromLock(pins: readonly LockedPin[], file: string): SourcePin[] {
  return pins.map((pin) => ({
    name: pin.name,
    operator: pin.operator,
    version: pin.version,
    requested: lockRequested(pin),
    origin: `${file}:${pin.line}`,
    requiredBy: pin.via.filter((entry) => !entry.startsWith("-")),
  }));
}

/** The report's text form: one line per project that sync touched or looked at, like a diff of the pins. */
export function formatSync(changes: readonly SyncChange[]): string {
  const mark: Record<SyncAction, string> = { added: "+", updated: "~", kept: "=", unchanged: " " };
  const lines = changes
    .filter((change) => change.action !== "unchanged")
    .map((change) => {
      switch (change.action) {
        case "added":
          return `${mark.added} ${change.name} ${JSON.stringify(change.specifier)}  # ${change.comment ?? ""}`;
        case "updated":
          return `${mark.updated} ${change.name} ${JSON.stringify(change.previous)} -> ${JSON.stringify(change.specifier)}  # ${change.comment ?? ""}`;
        case "kept":
          return `${mark.kept} ${change.name} ${JSON.stringify(change.specifier)} already admits the pinned version: kept as written`;
        case "unchanged":
          return "";
      }
    });
  const count = (action: SyncAction) => changes.filter((change) => change.action === action).length;
  const summary = `${count("added")} added, ${count("updated")} updated, ${count("kept")} kept (a range admits the version), ${count("unchanged")} already pinned`;
  return `${lines.join("\n")}${lines.length > 0 ? "\n" : ""}${summary}\n`;
}

function specText(value: unknown): string {
  return value === null || value === undefined || value === "" ? "*" : String(value);
}

/** An exact pin (`==1.2`, `===x`) is replaced by the source's; a range the maintainer chose is kept when it admits it. */
function isExact(specifier: string): boolean {
  return /^===?[^,*]+$/.test(normalizeSpecifier(specifier));
}
