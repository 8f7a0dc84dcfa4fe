import type { Allowlist, PublisherChange } from "../config/allowlist.js";
import type { RuleResult } from "../policy/index.js";

/**
 * The refusals of a listed name a person may turn into a yes, when that rule is the only one that
 * failed: rules.new_project: approval (the project looks new; the person is told which signal fired) and
 * rules.provenance_change: approval (the provenance rule's pin failure: the publisher changed, or the
 * attestation disappeared, against the record; the rule's detail names both identities). Any other
 * provenance failure (an attestation that does not verify, a file without one under
 * rules.provenance: required) carries no change and stays a refusal. One definition for the request's
 * decision (screenDecision) and for each distribution of its resolved set (resolved-set.ts).
 */
export function heldRefusal(
  refused: { name: string; rules: readonly RuleResult[]; provenanceChange?: PublisherChange | undefined },
  allowlist: Allowlist,
): { reason: "new-project" | "provenance"; detail: string } | undefined {
  if (!allowlist.packages.has(refused.name)) return undefined;
  const failed = refused.rules.filter((rule) => rule.outcome === "fail");
  const only = failed.length === 1 ? failed[0] : undefined;
  if (only?.rule === "new-project" && allowlist.rules.new_project === "approval") return { reason: "new-project", detail: only.detail };
  if (only?.rule === "provenance" && allowlist.rules.provenance_change === "approval" && refused.provenanceChange !== undefined) {
    return { reason: "provenance", detail: only.detail };
  }
  return undefined;
}
