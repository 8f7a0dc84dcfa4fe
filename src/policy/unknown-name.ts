import type { Allowlist } from "../config/allowlist.js";
import type { PopularNamesInput } from "./evaluate.js";
import { createNameIndex, type NameIndex } from "./typosquat.js";
import type { RuleResult } from "./types.js";

/**
 * The unknown-name signal: a name on neither the allowlist nor the popular-names list. About half of
 * the names a model invents are far from any real one, so no typosquat distance catches them; what
 * they share is that nobody has heard of them. With rules.unknown_name: deny such a name is refused even
 * where approval.unlisted would otherwise queue it for a person; with approval (the default) it may be
 * queued, the queue saying why it is suspect.
 */
export function checkUnknownName(name: string, allowlisted: boolean, allowlist: Allowlist, popular: PopularNamesInput): RuleResult {
  if (allowlisted) return { rule: "unknown-name", outcome: "pass", detail: `${name} is on the allowlist` };
  const index: NameIndex = Array.isArray(popular) ? createNameIndex(popular) : (popular as NameIndex);
  if (index.has(name)) return { rule: "unknown-name", outcome: "pass", detail: `${name} is a popular project` };
  const action = allowlist.rules.unknown_name;
  return {
    rule: "unknown-name",
    outcome: action === "deny" ? "fail" : "skip",
    detail: `${name} is on neither the allowlist nor the popular-names list: possibly a hallucinated name (unknown_name: ${action})`,
  };
}
