import { validRange } from "@renovatebot/pep440";
import type { Result } from "../errors.js";
import { normalizeName } from "./name.js";
import { isValidVersion, versionSatisfies } from "./version.js";

/**
 * PEP 508 environment markers as packaging (>= 22) evaluates them in core metadata: the part of a
 * Requires-Dist line after ";". Pure: the values come from the target interpreter (read once by the
 * commit's inspection), never from the broker's own process.
 */

/** The marker variables of one interpreter, as packaging's default_environment() reports them. */
export interface MarkerEnvironment {
  implementation_name: string;
  implementation_version: string;
  os_name: string;
  platform_machine: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  python_full_version: string;
  platform_python_implementation: string;
  python_version: string;
  sys_platform: string;
}

export const MARKER_VARIABLES = [
  "implementation_name",
  "implementation_version",
  "os_name",
  "platform_machine",
  "platform_release",
  "platform_system",
  "platform_version",
  "python_full_version",
  "platform_python_implementation",
  "python_version",
  "sys_platform",
] as const satisfies ReadonlyArray<keyof MarkerEnvironment>;

/** Variables compared as PEP 440 versions when the other side makes a valid specifier (packaging's list). */
const VERSION_VARIABLES = new Set(["implementation_version", "platform_release", "python_full_version", "python_version"]);

/** Legacy spellings packaging still accepts. */
const ALIASES: Record<string, string> = {
  "os.name": "os_name",
  "sys.platform": "sys_platform",
  "platform.version": "platform_version",
  "platform.machine": "platform_machine",
  "platform.python_implementation": "platform_python_implementation",
  python_implementation: "platform_python_implementation",
};

type Operand = { kind: "variable"; name: string } | { kind: "string"; value: string };
type Operator = "===" | "==" | "~=" | "!=" | "<=" | ">=" | "<" | ">" | "in" | "not in";
type Comparison = { kind: "compare"; left: Operand; op: Operator; right: Operand };
/** A parsed marker: comparisons joined by "and" (binding tighter) and "or". */
export type Marker = Comparison | { kind: "and" | "or"; left: Marker; right: Marker };

const TOKEN = new RegExp(
  [
    String.raw`(?<ws>[ \t]+)`,
    String.raw`(?<paren>[()])`,
    String.raw`(?<string>'[^']*'|"[^"]*")`,
    String.raw`(?<op>===|==|~=|!=|<=|>=|<|>)`,
    String.raw`(?<word>[A-Za-z_][A-Za-z0-9_.]*)`,
  ].join("|"),
  "y",
);

type Token = { type: "paren" | "string" | "op" | "word"; text: string };

function tokenize(text: string): Result<Token[]> {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (match?.groups === undefined) return { ok: false, error: `unexpected character at position ${at + 1}` };
    const [type, value] = Object.entries(match.groups).find(([, v]) => v !== undefined) ?? [];
    if (type === undefined || value === undefined || type === "ws") continue;
    tokens.push({ type: type as Token["type"], text: value });
  }
  return { ok: true, value: tokens };
}

/** Parses a marker expression; a marker packaging would refuse is refused here too (with why). */
export function parseMarker(text: string): Result<Marker> {
  const tokens = tokenize(text);
  if (!tokens.ok) return tokens;
  const list = tokens.value;
  let pos = 0;
  const peek = (): Token | undefined => list[pos];

  const operand = (): Result<Operand> => {
    const token = list[pos++];
    if (token?.type === "string") {
      const value = token.text.slice(1, -1);
      // packaging reads the quoted text as a Python literal; escapes are left out rather than guessed.
      if (value.includes("\\")) return { ok: false, error: `backslash escapes are not supported in ${token.text}` };
      return { ok: true, value: { kind: "string", value } };
    }
    if (token?.type === "word") {
      const name = ALIASES[token.text] ?? token.text;
      if ((MARKER_VARIABLES as readonly string[]).includes(name) || name === "extra") return { ok: true, value: { kind: "variable", name } };
      return { ok: false, error: `unknown marker variable ${token.text}` };
    }
    return { ok: false, error: "expected a marker variable or a quoted string" };
  };

  const operator = (): Result<Operator> => {
    const token = list[pos++];
    if (token?.type === "op") return { ok: true, value: token.text as Operator };
    if (token?.type === "word" && token.text === "in") return { ok: true, value: "in" };
    if (token?.type === "word" && token.text === "not" && list[pos]?.type === "word" && list[pos]?.text === "in") {
      pos += 1;
      return { ok: true, value: "not in" };
    }
    return { ok: false, error: "expected a marker operator (<=, <, !=, ==, >=, >, ~=, ===, in, not in)" };
  };

  const atom = (): Result<Marker> => {
    if (peek()?.type === "paren" && peek()?.text === "(") {
      pos += 1;
      const inner = or();
      if (!inner.ok) return inner;
      const close = list[pos++];
      if (close?.type !== "paren" || close.text !== ")") return { ok: false, error: "a parenthesis is not closed" };
      return inner;
    }
    const left = operand();
    if (!left.ok) return left;
    const op = operator();
    if (!op.ok) return op;
    const right = operand();
    if (!right.ok) return right;
    return { ok: true, value: { kind: "compare", left: left.value, op: op.value, right: right.value } };
  };

  const chain = (kind: "and" | "or", next: () => Result<Marker>) => (): Result<Marker> => {
    let left = next();
    while (left.ok && peek()?.type === "word" && peek()?.text === kind) {
      pos += 1;
      const right = next();
      if (!right.ok) return right;
      left = { ok: true, value: { kind, left: left.value, right: right.value } };
    }
    return left;
  };
  const and = chain("and", atom);
  const or = chain("or", and);

  const parsed = or();
  if (!parsed.ok) return parsed;
  if (pos < list.length) return { ok: false, error: `unexpected ${list[pos]?.text ?? ""} after the marker` };
  return parsed;
}

/**
 * What an expression is evaluated for: the interpreter's values and the extra being evaluated ("" for
 * none, as packaging's "metadata" context sets it, and as `pip check` evaluates installed requirements).
 */
export interface MarkerContext {
  environment: MarkerEnvironment;
  extra?: string;
}

/** Evaluates a parsed marker; a comparison packaging calls undefined (e.g. "~=" on strings) is an error. */
export function evaluateMarker(marker: Marker, context: MarkerContext): Result<boolean> {
  if (marker.kind !== "compare") {
    const left = evaluateMarker(marker.left, context);
    if (!left.ok) return left;
    // No short cut: an undefined comparison on either side is an error whatever the other says.
    const right = evaluateMarker(marker.right, context);
    if (!right.ok) return right;
    return { ok: true, value: marker.kind === "and" ? left.value && right.value : left.value || right.value };
  }
  const { left, right } = marker;
  if ((left.kind === "variable") === (right.kind === "variable")) {
    return { ok: false, error: "a marker comparison needs one variable and one quoted string" };
  }
  const variable = left.kind === "variable" ? left.name : right.kind === "variable" ? right.name : "";
  const value = (operand: Operand): string => {
    if (operand.kind === "string") return variable === "extra" ? normalizeName(operand.value) : operand.value;
    if (operand.name === "extra") return normalizeName(context.extra ?? "");
    const found = context.environment[operand.name as keyof MarkerEnvironment];
    // packaging's repair of an untagged build's version ("3.11.7+" is not PEP 440).
    return operand.name === "python_full_version" && found.endsWith("+") ? `${found}local` : found;
  };
  return compare(value(left), marker.op, value(right), VERSION_VARIABLES.has(variable));
}

function compare(lhs: string, op: Operator, rhs: string, asVersion: boolean): Result<boolean> {
  if (op === "in") return { ok: true, value: rhs.includes(lhs) };
  if (op === "not in") return { ok: true, value: !rhs.includes(lhs) };
  if (asVersion && isSpecifier(op, rhs)) {
    return { ok: true, value: isValidVersion(lhs) && versionSatisfies(lhs, `${op}${rhs}`, { prereleases: true }) };
  }
  // Strings have no order (packaging 26): "<" and ">" never hold, "<=" and ">=" mean equality.
  switch (op) {
    case "==":
    case "<=":
    case ">=":
      return { ok: true, value: lhs === rhs };
    case "!=":
      return { ok: true, value: lhs !== rhs };
    case "<":
    case ">":
      return { ok: true, value: false };
    case "~=":
    case "===":
      return { ok: false, error: `"${op}" is undefined on ${JSON.stringify(lhs)} and ${JSON.stringify(rhs)}` };
  }
}

/** Whether `op` and `rhs` make one PEP 440 specifier (packaging's Specifier(op + rhs) accepts it). */
function isSpecifier(op: Operator, rhs: string): boolean {
  if (op === "===") return /^[^\s;)]+$/.test(rhs);
  return validRange(`${op}${rhs}`);
}

/** Parses and evaluates in one step; the marker text as written in metadata. */
export function markerApplies(text: string, context: MarkerContext): Result<boolean> {
  const parsed = parseMarker(text);
  if (!parsed.ok) return { ok: false, error: `invalid marker ${JSON.stringify(text)}: ${parsed.error}` };
  return evaluateMarker(parsed.value, context);
}
