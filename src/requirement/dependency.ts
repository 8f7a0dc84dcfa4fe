import { validRange } from "@renovatebot/pep440";
import type { Result } from "../errors.js";
import { markerApplies, type MarkerContext } from "./marker.js";
import { normalizeName } from "./name.js";

/**
 * One Requires-Dist line of installed or incoming metadata: full PEP 508 (markers, direct references,
 * any number of clauses), unlike parseRequirement, which is what an agent may ask for.
 */
export interface Dependency {
  name: string;
  normalized: string;
  /** Comma-joined clauses without spaces; "" for any version (a direct reference too). */
  specifier: string;
  /** The marker text after ";", if any. */
  marker: string | undefined;
}

const HEAD = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*/;

/** Parses a Requires-Dist value; what it cannot read is an error, never a silently dropped requirement. */
export function parseDependency(line: string): Result<Dependency> {
  const head = HEAD.exec(line);
  if (head?.[1] === undefined) return { ok: false, error: `${JSON.stringify(line)} does not start with a project name` };
  const name = head[1];
  let rest = line.slice(head[0].length);
  let marker: string | undefined;
  if (rest.startsWith("@")) {
    // A URL may hold ";" itself: PEP 508 puts whitespace before the marker's ";".
    const at = /\s;/.exec(rest);
    marker = at === null ? undefined : rest.slice(at.index + 2).trim();
    return { ok: true, value: { name, normalized: normalizeName(name), specifier: "", marker } };
  }
  const semicolon = rest.indexOf(";");
  if (semicolon >= 0) {
    marker = rest.slice(semicolon + 1).trim();
    rest = rest.slice(0, semicolon);
  }
  let spec = rest.trim();
  if (spec.startsWith("(") && spec.endsWith(")")) spec = spec.slice(1, -1);
  const clauses = spec.trim() === "" ? [] : spec.split(",").map((clause) => clause.replace(/\s+/g, ""));
  for (const clause of clauses) {
    if (!(clause.startsWith("===") ? clause.length > 3 : validRange(clause))) {
      return { ok: false, error: `${JSON.stringify(line)} has the invalid specifier ${JSON.stringify(clause)}` };
    }
  }
  return { ok: true, value: { name, normalized: normalizeName(name), specifier: clauses.join(","), marker } };
}

/** Whether a dependency applies to this interpreter; an unreadable marker counts as applying (fail closed). */
export function dependencyApplies(dependency: Dependency, context: MarkerContext): boolean {
  if (dependency.marker === undefined || dependency.marker === "") return true;
  const applies = markerApplies(dependency.marker, context);
  return applies.ok ? applies.value : true;
}
