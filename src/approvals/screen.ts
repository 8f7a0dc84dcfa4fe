import type { Allowlist } from "../config/allowlist.js";
import type { Decision } from "../policy/index.js";
import type { ApprovalPolicy } from "../config/policy-file-schema.js";
import type { QueueReason } from "./store.js";
import { heldRefusal } from "./held-refusal.js";

export type Screening = { queue: false } | { queue: true; reason: QueueReason; detail: string };

/**
 * Whether a policy decision sends a request to a person instead of answering it now. Pure. Only four
 * refusals can be turned into a question: a name that is simply not on the allowlist (never one on the
 * deny list, and never a lookalike of another name: those stay refused), a listed project refused only
 * as new (rules.new_project: approval), a listed project whose publisher changed against its record
 * (rules.provenance_change: approval), and an allowed release that has no wheel and would be built
 * from its sdist. Every other decision stands as it is.
 */
export function screenDecision(decision: Decision, allowlist: Allowlist, policy: ApprovalPolicy, environment: string): Screening {
  if (policy.environments !== undefined && !policy.environments.includes(environment)) return { queue: false };
  if (!decision.allowed) {
    const held = heldRefusal(decision, allowlist);
    if (held?.reason === "new-project") return { queue: true, reason: "new-project", detail: `${held.detail} (new_project: approval)` };
    if (held?.reason === "provenance") return { queue: true, reason: "provenance", detail: held.detail };
    if (!policy.unlisted) return { queue: false };
    const unlisted = !allowlist.packages.has(decision.name) && !allowlist.deny.has(decision.name);
    const lookalike = decision.rules.some((rule) => rule.rule === "typosquat" && rule.outcome === "fail");
    const onlyAllowlist = decision.rules.every((rule) => rule.outcome !== "fail" || rule.rule === "allowlist");
    if (unlisted && !lookalike && onlyAllowlist) {
      // rules.unknown_name: approval lets a likely hallucinated name be queued; the person is told so
      const unknown = decision.rules.find((rule) => rule.rule === "unknown-name" && rule.outcome === "skip");
      return {
        queue: true,
        reason: "unlisted",
        detail: `${decision.name} is not on the allowlist of ${environment}${unknown === undefined ? "" : `; ${unknown.detail}`}`,
      };
    }
    return { queue: false };
  }
  if (policy.sdists && !decision.files.some((file) => file.kind === "wheel")) {
    return { queue: true, reason: "sdist", detail: `${decision.name} ${decision.version} has no wheel and would be built from its sdist` };
  }
  return { queue: false };
}
