import { judgeSet, setDifferences, setLine, type SetDist } from "../approvals/resolved-set.js";
import { approvedChanges, newProjectsAllowed, provenanceChangesAllowed, unlistedAllowed } from "../approvals/open-allowlist.js";
import type { VerifiedWheel } from "../commit/request.js";
import type { Allowlist } from "../config/allowlist.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import type { Decision } from "../policy/index.js";
import type { ApprovalGate, ApprovedRun, Considered, Hold, PipelineDeps } from "./deps.js";
import { normalizeName } from "../requirement/name.js";
import { verifyWheels } from "./verify-wheels.js";

/**
 * What the approval stage makes of one request, decided once after policy: nothing (`env` is the
 * environment as it is), a set to resolve and put to a person (`ask`), or an approved set to resolve
 * again and install only if it is the same (`approved`). Both resolve against the environment with
 * names off the allowlist let through when the approval policy queues such names; every other rule
 * holds, and the set is judged against the real allowlist afterwards.
 */
export interface Held {
  env: EnvironmentRuntime;
  ask?: Hold;
  approved?: ApprovedRun;
}

export function holdFor(gate: ApprovalGate | undefined, approved: ApprovedRun | undefined, decision: Decision, env: EnvironmentRuntime): Held {
  // provenance: the pin check lifted for any release while asking, for exactly the approved ones when running
  const widen = (unlisted: boolean, newProject: boolean, provenance: Allowlist["provenanceLift"]): EnvironmentRuntime => {
    if (!unlisted && !newProject && provenance === undefined) return env;
    let allowlist = newProject ? newProjectsAllowed(env.allowlist) : env.allowlist;
    if (provenance !== undefined) allowlist = provenanceChangesAllowed(allowlist, provenance);
    return { ...env, allowlist: unlisted ? unlistedAllowed(allowlist) : allowlist };
  };
  if (approved !== undefined) {
    const changes = approvedChanges(approved.set);
    return {
      env: widen(
        approved.unlisted,
        approved.set.some((dist) => dist.needs === "new-project"),
        changes.size > 0 ? changes : undefined,
      ),
      approved,
    };
  }
  const hold = gate?.screen(decision, env);
  return hold === undefined
    ? { env }
    : { env: widen(hold.unlisted, hold.reason === "new-project", hold.reason === "provenance" ? "any" : undefined), ask: hold };
}

/** After verification: commit these wheels, put this set to a person, or refuse. */
export type AfterVerify = { kind: "commit"; wheels: VerifiedWheel[] } | { kind: "queue"; considered: Considered } | { kind: "refuse"; message: string };

/**
 * The approval stage's second half, on the verified set. Asking: every distribution is judged against
 * the real allowlist and the set is queued as one unit. Approved: the set resolved now must be the one
 * approved (same releases from the same index files); then exactly the approved wheels are committed,
 * built ones from pipgate's store as the approver saw them. A set that changed is refused, and a new
 * request for the set as it resolves now is queued in its place (the agent polls the new id).
 */
export async function afterVerify(
  deps: Pick<PipelineDeps, "policyDeps">,
  gate: ApprovalGate | undefined,
  held: Held,
  real: EnvironmentRuntime,
  wheels: VerifiedWheel[],
  requirement: string,
): Promise<AfterVerify> {
  if (held.ask === undefined && held.approved === undefined) return { kind: "commit", wheels };
  const judged = await judgeSet(wheels, real, held.env, deps.policyDeps);
  if (!judged.ok) return { kind: "refuse", message: `refused: ${judged.error}; an approval does not waive that` };
  if (held.ask !== undefined) {
    if (gate === undefined) return { kind: "refuse", message: "refused: nobody is configured to approve it" };
    return { kind: "queue", considered: gate.consider(held.ask, judged.set, requirement) };
  }
  const approved = held.approved as ApprovedRun;
  const differences = setDifferences(approved.set, judged.set);
  if (differences.length > 0) {
    const hold: Hold = {
      reason: judged.set.some((dist) => dist.needs === "unlisted")
        ? "unlisted"
        : judged.set.some((dist) => dist.needs === "new-project")
          ? "new-project"
          : judged.set.some((dist) => dist.needs === "provenance")
            ? "provenance"
            : "sdist",
      detail: differences.join("; "),
      unlisted: approved.unlisted,
    };
    if (gate === undefined) return { kind: "refuse", message: `refused: the set approved as ${approved.id} changed (${hold.detail}); it needs a new approval` };
    return { kind: "queue", considered: gate.consider(hold, judged.set, requirement, approved.id) };
  }
  const exact: VerifiedWheel[] = approved.set.map((dist) => {
    const now = wheels.find((wheel) => normalizeName(wheel.name) === dist.name) as VerifiedWheel;
    return dist.built ? { name: now.name, version: dist.version, path: dist.path, sha256: dist.sha256 } : now;
  });
  // An approved build is installed from the store, as approved: held to policy and inspected once more.
  const again = await verifyWheels(deps, held.env, exact, []);
  if (!again.ok) return { kind: "refuse", message: `refused: the approved set no longer passes: ${again.error}` };
  return { kind: "commit", wheels: again.wheels };
}

/** The set in the agent's and the approver's words. */
export function setSummary(set: readonly SetDist[]): string {
  return `${set.length} distribution${set.length === 1 ? "" : "s"}: ${setLine(set)}`;
}
