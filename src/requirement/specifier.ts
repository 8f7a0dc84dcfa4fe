import { validRange } from "@renovatebot/pep440";
import { REQUIREMENT_LIMITS } from "./limits.js";
import { echo } from "./echo.js";
import { isValidName } from "./name.js";

/** A specifier set checked clause by clause, with the reason an agent can act on when it is not one. */
export type SpecifierResult = { ok: true; specifier: string } | { ok: false; problem: string; tooLong?: true };

const CLAUSE = /^(===|~=|==|!=|<=|>=|<|>)\s*(.*)$/;
/** `===` compares strings; keep its operand to the characters real versions use. */
const ARBITRARY_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/;
const CLAUSE_FORM = "a clause is an operator (===, ~=, ==, !=, <=, >=, < or >) followed by a PEP 440 version such as 1.26.4, 2.0rc1 or 1.26.*";

/**
 * Parses the specifier part of a requirement ("" for none) into pipgate's canonical form: clauses in
 * the order given, joined by "," without spaces. Every clause must be valid PEP 440, and read the
 * same way by pip (tested against pip's own parser).
 */
export function parseSpecifierSet(text: string, parenthesised = false): SpecifierResult {
  if (text.trim() === "") return { ok: true, specifier: "" };
  const clauses = text.split(",").map((clause) => clause.trim());
  if (clauses.length > REQUIREMENT_LIMITS.clauses) {
    return { ok: false, tooLong: true, problem: `it has ${clauses.length} specifier clauses; pipgate accepts at most ${REQUIREMENT_LIMITS.clauses}` };
  }
  if (clauses.some((clause) => startsWithName(clause))) return SEVERAL;
  const canonical: string[] = [];
  for (const clause of clauses) {
    const checked = checkClause(clause);
    if (!checked.ok) return checked;
    canonical.push(checked.specifier);
  }
  // pip's parser lets an "===" operand run on over commas and ")", so it must stand alone.
  if (canonical.some((clause) => clause.startsWith("===")) && (canonical.length > 1 || parenthesised)) {
    return { ok: false, problem: 'its "===" (arbitrary equality) clause must be the only clause, written without parentheses, e.g. "name===1.0"' };
  }
  return { ok: true, specifier: canonical.join(",") };
}

const SEVERAL: SpecifierResult = { ok: false, problem: "it holds more than one requirement; ask for one project per call" };

/** "numpy, scipy" and "numpy scipy" leave a second project name where a clause should be. */
function startsWithName(clause: string): boolean {
  return /^[A-Za-z]/.test(clause) && isValidName(clause.split(/[\s[(<>=!~]/)[0] ?? "");
}

function checkClause(clause: string): SpecifierResult {
  if (clause === "") {
    return { ok: false, problem: `it has an empty specifier clause (a stray comma); ${CLAUSE_FORM}` };
  }
  const match = CLAUSE.exec(clause);
  if (match === null) {
    if (/^[0-9]/.test(clause)) return { ok: false, problem: `${echo(clause)} has no operator; put "==" before a version to ask for exactly it` };
    if (/^=[^=]/.test(clause)) return { ok: false, problem: `${echo(clause)} uses a single "="; use "==" for an exact version` };
    return { ok: false, problem: `${echo(clause)} is not a version specifier; ${CLAUSE_FORM}` };
  }
  const operator = match[1] ?? "";
  const operand = match[2] ?? "";
  if (/\s/.test(operand)) return SEVERAL;
  if (operand === "") return { ok: false, problem: `${echo(clause)} has no version after "${operator}"; ${CLAUSE_FORM}` };
  const valid = operator === "===" ? ARBITRARY_VERSION.test(operand) : validRange(`${operator}${operand}`);
  if (!valid) return { ok: false, problem: `${echo(clause)} is not a valid PEP 440 specifier; ${CLAUSE_FORM}` };
  return { ok: true, specifier: `${operator}${operand}` };
}
