/** One requirement as pipgate accepts it: a project, optional extras, an optional PEP 440 specifier set. */
export interface Requirement {
  /** The string the agent sent, unchanged (for the audit log). */
  raw: string;
  /** The project name as written. */
  name: string;
  /** The PEP 503 normalised name: what allowlists, the index and the audit log compare. */
  normalized: string;
  /** PEP 685-normalised extras, without duplicates, in the order given. */
  extras: string[];
  /** "" for any version; otherwise the comma-joined clauses without spaces, e.g. ">=4.2,<5". */
  specifier: string;
}

/** Every reason pipgate refuses input, so callers, tests and the audit log can tell them apart. */
export const REFUSAL_KINDS = [
  "option",
  "url",
  "direct-reference",
  "path",
  "marker",
  "control",
  "non-ascii",
  "empty",
  "too-long",
  "invalid-specifier",
  "invalid-name",
  "environment",
  "timeout",
  "upgrade",
  "type",
] as const;

export type RefusalKind = (typeof REFUSAL_KINDS)[number];

/** Parsing is expected to fail on hostile input, so it returns a value instead of throwing. */
export type ParseResult = { ok: true; requirement: Requirement } | { ok: false; kind: RefusalKind; message: string };
