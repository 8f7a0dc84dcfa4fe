/**
 * Policy regexes run on every admission against attacker-chosen arguments, in the broker's one event
 * loop, so a pattern that can backtrack catastrophically would let an agent stall every other request.
 * JavaScript has no linear-time engine without runtime flags, so pipgate accepts a deliberately small
 * subset instead, checked when the policy loads:
 * - no backreferences (`\1`, `\k<name>`) and no lookarounds — neither is needed to say what a value must look like;
 * - no quantified group that itself holds a quantifier or an alternation (`(a+)+`, `(a|ab)*`): the shapes of
 *   exponential backtracking;
 * - at most MAX_UNBOUNDED quantifiers that can repeat more than MAX_BOUNDED times (`*`, `+`, `{n,}`, `{n,m}`
 *   with m > MAX_BOUNDED): k adjacent overlapping ones cost O(n^k);
 * and it always matches the WHOLE value (`^(?:pattern)$`: one start position, and no "contains" loophole),
 * on values of at most REGEX_INPUT_MAX characters — a longer value fails the condition (it is never
 * truncated, which would let a tail past the cap through). Worst case: about (4096)² steps.
 */
export const REGEX_SOURCE_MAX = 512;
export const REGEX_INPUT_MAX = 4096;
export const MAX_UNBOUNDED = 2;
const MAX_BOUNDED = 64;

export type RegexCheck = { ok: true; regex: RegExp } | { ok: false; error: string };

interface Group {
  quantifiers: number;
  alternation: boolean;
}

/** Compiles a policy pattern as a whole-value match, or says why it is refused. */
export function compilePolicyRegex(source: string): RegexCheck {
  if (source.length > REGEX_SOURCE_MAX) return { ok: false, error: `a regex is at most ${REGEX_SOURCE_MAX} characters` };
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source})$`, "u");
  } catch (error) {
    return { ok: false, error: `not a valid regular expression: ${error instanceof Error ? error.message : String(error)}` };
  }
  const shape = checkShape(source);
  if (shape !== undefined)
    return { ok: false, error: `${shape} (policy regexes are a small subset that cannot backtrack catastrophically; see README, "Argument conditions")` };
  return { ok: true, regex };
}

/** Walks the pattern once; the source already compiled, so brackets and escapes are balanced. */
function checkShape(source: string): string | undefined {
  const stack: Group[] = [{ quantifiers: 0, alternation: false }];
  let unbounded = 0;
  let i = 0;
  while (i < source.length) {
    const char = source[i] ?? "";
    const top = stack[stack.length - 1] ?? { quantifiers: 0, alternation: false };
    let closed: Group | undefined;
    if (char === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") return "backreferences are refused";
      i += 2;
      // \p{…}, \u{…}, \x.. are single atoms: skip their braces so they do not read as a quantifier
      if ((next === "p" || next === "P" || next === "u") && source[i] === "{") i = source.indexOf("}", i) + 1;
    } else if (char === "[") {
      i = classEnd(source, i);
    } else if (char === "(") {
      if (source.startsWith("(?=", i) || source.startsWith("(?!", i) || source.startsWith("(?<=", i) || source.startsWith("(?<!", i))
        return "lookarounds are refused";
      stack.push({ quantifiers: 0, alternation: false });
      i += source.startsWith("(?:", i) ? 3 : source.startsWith("(?<", i) ? source.indexOf(">", i) + 1 : 1;
      continue;
    } else if (char === ")") {
      closed = stack.pop();
      i += 1;
    } else if (char === "|") {
      top.alternation = true;
      i += 1;
    } else {
      i += 1;
    }
    const quantifier = readQuantifier(source, i);
    if (quantifier !== undefined) {
      if (closed !== undefined && (closed.quantifiers > 0 || closed.alternation)) {
        return closed.alternation ? "a quantified group may not hold an alternation" : "nested quantifiers are refused";
      }
      if (quantifier.max > MAX_BOUNDED) unbounded += 1;
      if (unbounded > MAX_UNBOUNDED) return `at most ${MAX_UNBOUNDED} unbounded quantifiers (*, +, {n,}) are allowed`;
      for (const group of stack) group.quantifiers += 1;
      i = quantifier.end;
    }
    // what a group holds, its enclosing groups hold too (quantifiers were counted on every open group)
    const parent = stack[stack.length - 1];
    if (closed !== undefined && parent !== undefined) parent.alternation ||= closed.alternation;
  }
  return undefined;
}

function classEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === "^") i += 1;
  if (source[i] === "]") i += 1;
  while (i < source.length && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
  return i + 1;
}

/** A quantifier at `at` (with an optional lazy `?`), its largest repeat count and where it ends. */
function readQuantifier(source: string, at: number): { max: number; end: number } | undefined {
  const char = source[at];
  let max: number;
  let end: number;
  if (char === "*" || char === "+") {
    max = Infinity;
    end = at + 1;
  } else if (char === "?") {
    max = 1;
    end = at + 1;
  } else if (char === "{") {
    const match = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
    if (match === null) return undefined;
    max = match[2] === undefined ? Number(match[1]) : match[3] === "" || match[3] === undefined ? Infinity : Number(match[3]);
    end = at + match[0].length;
  } else {
    return undefined;
  }
  if (source[end] === "?") end += 1;
  return { max, end };
}
