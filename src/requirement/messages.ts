import type { ParseResult, RefusalKind } from "./types.js";

/** The sentence every refusal ends with, so an agent always learns what it may send instead. */
export const ACCEPTED_FORM =
  'Give a plain requirement: a project name with an optional version specifier and extras, e.g. "requests>=2.31" or "requests[socks]==2.32.3".';

/** A refusal whose message says what was wrong and then the accepted form. */
export function refuse(kind: RefusalKind, problem: string): Extract<ParseResult, { ok: false }> {
  return { ok: false, kind, message: `${problem} ${ACCEPTED_FORM}` };
}
