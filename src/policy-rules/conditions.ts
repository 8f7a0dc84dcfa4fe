import type { Condition, Scalar } from "../config/policy-conditions-schema.js";
import { compilePolicyRegex, REGEX_INPUT_MAX } from "../config/safe-regex.js";
import { isUnder, lookupArgument, normalisePathValue } from "./argument-path.js";

export type ConditionCheck = { met: true } | { met: false; reason: string };

/** How much of an attacker-chosen value a refusal quotes. */
const QUOTE_MAX = 200;

/** A value as a refusal quotes it: JSON, cut at QUOTE_MAX characters. */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}… (${text.length} characters)` : text;
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/**
 * Whether one call's arguments meet one requirement, and if not, a clause saying what was required and
 * what was found ("file_path must be under /srv/work; it is /etc/passwd"). Pure, and bounded: strings
 * are matched only up to REGEX_INPUT_MAX characters, paths only up to PATH_VALUE_MAX.
 */
export function checkCondition(condition: Condition, args: unknown): ConditionCheck {
  const name = condition.argument;
  const found = lookupArgument(args, name);
  if (!found.found) {
    return condition.optional ? { met: true } : { met: false, reason: `${name} is required by this rule and the call does not give it` };
  }
  const value = found.value;
  if (condition.equals !== undefined) {
    return isScalar(value) && value === condition.equals
      ? { met: true }
      : { met: false, reason: `${name} must be ${quote(condition.equals)}; it is ${quote(value)}` };
  }
  if (condition.in !== undefined) {
    const allowed = condition.in;
    return isScalar(value) && allowed.includes(value)
      ? { met: true }
      : { met: false, reason: `${name} must be one of ${quote(allowed)}; it is ${quote(value)}` };
  }
  if (condition.max_length !== undefined) {
    const max = condition.max_length;
    if (typeof value === "string") {
      // characters, not UTF-16 units: counted without building an array, and stopped once over the limit
      let count = 0;
      for (const _ of value) if (++count > max) break;
      return count <= max ? { met: true } : { met: false, reason: `${name} must be at most ${max} characters; it has ${value.length > max ? "more" : count}` };
    }
    if (Array.isArray(value))
      return value.length <= max ? { met: true } : { met: false, reason: `${name} must have at most ${max} items; it has ${value.length}` };
    return { met: false, reason: `${name} must be a string or an array of at most ${max}; it is ${quote(value)}` };
  }
  if (condition.regex !== undefined) {
    if (typeof value !== "string") return { met: false, reason: `${name} must be a string matching ${quote(condition.regex)}; it is ${quote(value)}` };
    if (value.length > REGEX_INPUT_MAX)
      return {
        met: false,
        reason: `${name} must match ${quote(condition.regex)}, and a value over ${REGEX_INPUT_MAX} characters is never matched; it has ${value.length}`,
      };
    const compiled = compilePolicyRegex(condition.regex);
    // the schema compiled it at load; a pattern that no longer compiles fails closed
    if (!compiled.ok) return { met: false, reason: `the rule's regex is refused: ${compiled.error}` };
    return compiled.regex.test(value) ? { met: true } : { met: false, reason: `${name} must match ${quote(condition.regex)}; it is ${quote(value)}` };
  }
  if (condition.prefix !== undefined) {
    const prefix = condition.prefix;
    if (typeof value !== "string") return { met: false, reason: `${name} must be a path under ${prefix}; it is ${quote(value)}` };
    const normal = normalisePathValue(value, condition.base_dir);
    if (!normal.ok) return { met: false, reason: `${name} must be a path under ${prefix}; it ${normal.error}` };
    if (isUnder(normal.path, prefix)) return { met: true };
    const shown = normal.path === value ? normal.path : `${normal.path} (from ${quote(value)})`;
    return { met: false, reason: `${name} must be under ${prefix}; it is ${shown.length > 400 ? `${shown.slice(0, 400)}…` : shown}` };
  }
  // the schema requires one test; a condition with none (built in code) fails closed
  return { met: false, reason: "the rule names no test" };
}
