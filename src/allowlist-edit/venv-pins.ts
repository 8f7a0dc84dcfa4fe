import type { EnvironmentState } from "../commit/interpreter.js";
import { dependencyApplies, parseDependency, type Dependency } from "../requirement/dependency.js";
import { isValidName, isValidVersion, normalizeName } from "../requirement/index.js";

/** An exact pin taken from a venv or a lock file, with what a maintainer needs to know about where it came from. */
export interface SourcePin {
  name: string;
  operator: "==" | "===";
  version: string;
  /** someone asked for it (nothing installed requires it; or pip-compile's `# via -r FILE`) */
  requested: boolean;
  /** where the pin came from, for the entry's comment: "requirements.txt:12", "/srv/venv/bin/python" */
  origin: string;
  /** the projects that require it there */
  requiredBy: string[];
  /** the venv's own installer tooling (pip, setuptools, wheel), which came with the venv */
  tooling?: boolean;
}

/**
 * Which installed distributions require each project (by normalised name): every Requires-Dist line
 * of every installed distribution whose marker applies to this interpreter. `withExtras` also counts
 * lines that apply only for an extra (`extra == "socks"`): pip does not record which extras were asked
 * for, so a lint that must not cry wolf counts them, while the pins of init and sync (what is there) do not.
 */
export function requiredBy(state: EnvironmentState, options: { withExtras: boolean }): Map<string, string[]> {
  const required = new Map<string, string[]>();
  for (const dist of state.installed) {
    for (const line of dist.requires) {
      const dependency = parseDependency(line);
      if (!dependency.ok) continue;
      const applies =
        dependencyApplies(dependency.value, { environment: state.markers, extra: "" }) || (options.withExtras && extraMayApply(dependency.value, state));
      if (!applies) continue;
      const list = required.get(dependency.value.normalized) ?? [];
      if (!list.includes(dist.name)) list.push(dist.name);
      required.set(dependency.value.normalized, list);
    }
  }
  return required;
}

/** Whether a line that names an extra applies on this interpreter with one of the extras its marker names. */
function extraMayApply(dependency: Dependency, state: EnvironmentState): boolean {
  const names = [...(dependency.marker ?? "").matchAll(/extra\s*==\s*["']([^"']+)["']/g)].map((match) => match[1] ?? "");
  return names.some((extra) => dependencyApplies(dependency, { environment: state.markers, extra }));
}

/** What `python -m venv` puts into a venv itself (ensurepip): there because of the venv, not because anyone asked. */
const VENV_TOOLING = new Set(["pip", "setuptools", "wheel"]);

/** A venv's pins, and the distributions that cannot be pinned (a name or version an allowlist cannot hold). */
export interface EnvironmentPins {
  pins: SourcePin[];
  skipped: string[];
}

/**
 * A venv's distributions as exact pins (the first on sys.path per project, as importlib and pip see
 * them): a distribution nothing installed requires is one someone asked for (the venv's own pip,
 * setuptools and wheel excepted), the rest came with it. Metadata is the venv's to say: a name that is
 * not a valid project name, or a version that is neither PEP 440 nor a plain token for "===", is left
 * out and reported rather than written.
 */
export function pinsFromEnvironment(state: EnvironmentState, origin: string): EnvironmentPins {
  const required = requiredBy(state, { withExtras: false });
  const pins: SourcePin[] = [];
  const skipped: string[] = [];
  for (const dist of state.installed) {
    const operator: SourcePin["operator"] = isValidVersion(dist.version) ? "==" : "===";
    if (!isValidName(dist.name) || (operator === "===" && !ARBITRARY_VERSION.test(dist.version))) {
      skipped.push(`${JSON.stringify(dist.name.slice(0, 80))} ${JSON.stringify(dist.version.slice(0, 80))}`);
      continue;
    }
    const by = required.get(normalizeName(dist.name)) ?? [];
    const tooling = VENV_TOOLING.has(normalizeName(dist.name));
    pins.push({ name: dist.name, operator, version: dist.version, requested: by.length === 0 && !tooling, origin, requiredBy: by, tooling });
  }
  pins.sort((a, b) => normalizeName(a.name).localeCompare(normalizeName(b.name)));
  return { pins, skipped };
}

/** A version "===" may pin: one token of the characters versions are made of. */
export const ARBITRARY_VERSION = /^[A-Za-z0-9](?:[A-Za-z0-9._+!-]*[A-Za-z0-9])?$/;

/** The word in an entry's comment that marks it as asked for, so lint never calls it unused. */
export const REQUESTED_MARK = "requested";

/** Whether an allowlist entry's comment carries the mark. */
export function hasRequestedMark(comment: string): boolean {
  return /(^|[^A-Za-z-])requested($|[^A-Za-z-])/i.test(comment);
}

/**
 * The comment written beside a pin: where it came from and why it is there, so a maintainer reading
 * the allowlist knows which entries were asked for and which only came along. At most 200 characters.
 */
export function pinComment(pin: SourcePin, previous?: string): string {
  const parts: string[] = [];
  if (pin.requested) parts.push(REQUESTED_MARK);
  parts.push(`from ${pin.origin}`);
  if (pin.tooling === true && pin.requiredBy.length === 0) parts.push("installed with the venv");
  if (pin.requiredBy.length > 0) {
    const shown = pin.requiredBy.slice(0, 3).join(", ");
    parts.push(`required by ${shown}${pin.requiredBy.length > 3 ? ` and ${pin.requiredBy.length - 3} more` : ""}`);
  }
  if (previous !== undefined) parts.push(`was ${previous}`);
  // eslint-disable-next-line no-control-regex
  const text = parts.join("; ").replace(/[\s\u0000-\u001f\u007f]+/g, " ");
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
