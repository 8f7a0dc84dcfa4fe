import type { AllowedPackage, Allowlist, PublisherChange } from "../config/allowlist.js";
import type { Rules } from "../config/allowlist-schema.js";
import type { SetDist } from "./resolved-set.js";

/**
 * A package map that also answers for names it does not list: any version of a name that is not on
 * the deny list. Iterating it (keys, entries, size) still yields only the listed names, so anything that
 * lists "what is allowed" shows the file as written; only lookups (policy, the sandbox's proxy) see the
 * wider map. `ranges: false` also lifts the listed names' version ranges.
 */
class OpenPackages extends Map<string, AllowedPackage> {
  constructor(
    listed: ReadonlyMap<string, AllowedPackage>,
    private readonly deny: ReadonlySet<string>,
    private readonly ranges: boolean,
  ) {
    super(listed);
  }

  override get(name: string): AllowedPackage | undefined {
    if (this.deny.has(name)) return undefined;
    const listed = super.get(name);
    if (listed !== undefined && this.ranges) return listed;
    return { name: listed?.name ?? name, specifier: "" };
  }

  override has(name: string): boolean {
    return !this.deny.has(name);
  }
}

/**
 * The allowlist an approved set is resolved and verified against: names off the list are let through
 * at any version (the approval, not the file, decides about them), while the deny list, the listed
 * names' ranges and every other rule still apply. What it let through is then judged against the real
 * allowlist, one distribution at a time, for the approver to see (approvals/resolved-set.ts).
 */
export function unlistedAllowed(allowlist: Allowlist): Allowlist {
  return { ...allowlist, packages: new OpenPackages(allowlist.packages, allowlist.deny, true) };
}

/**
 * The allowlist a new-project approval is resolved against: the new-project bounds lifted, every other
 * rule as it is. What it let through is judged against the real allowlist (approvals/resolved-set.ts),
 * where only a new-project failure under rules.new_project: approval may wait for the person.
 */
export function newProjectsAllowed(allowlist: Allowlist): Allowlist {
  return { ...allowlist, rules: { ...allowlist.rules, new_project_min_age_days: 0, new_project_min_releases: 0 } };
}

/**
 * The allowlist a provenance-change approval is resolved against: the provenance rule's pin check
 * lifted, for any release while the set is resolved to be put to a person (`any`), for exactly the
 * approved releases and identities when it runs (approvedChanges). Attestations must still verify, and
 * a release without one under rules.provenance: required is still refused. What it let through is
 * judged against the real allowlist (approvals/resolved-set.ts), where only a pin failure under
 * rules.provenance_change: approval may wait for the person.
 */
export function provenanceChangesAllowed(allowlist: Allowlist, lift: NonNullable<Allowlist["provenanceLift"]>): Allowlist {
  return { ...allowlist, provenanceLift: lift };
}

/** The publisher changes an approved set carries, by distribution: what its run may let through, and repin after. */
export function approvedChanges(set: readonly SetDist[]): Map<string, PublisherChange & { version: string }> {
  const changes = new Map<string, PublisherChange & { version: string }>();
  for (const dist of set) if (dist.needs === "provenance" && dist.publisher !== undefined) changes.set(dist.name, { ...dist.publisher, version: dist.version });
  return changes;
}

/** The rules shadow mode lifts: the habits a team rolls pipgate out against, never the hard checks. */
export const SHADOW_RULES: Partial<Rules> = {
  min_release_age_days: 0,
  vulnerabilities: "allow",
  licenses: [],
  unknown_license: "allow",
  wheels_only: false,
  typosquat: false,
};

/**
 * The allowlist a shadow-mode install runs against: every name not on the deny list at any version,
 * and the metadata rules lifted (SHADOW_RULES). The deny list, yanked files, requires-python, wheel
 * inspection and the sandbox stay as they are. The real allowlist's verdict is what gets audited.
 */
export function shadowAllowlist(allowlist: Allowlist): Allowlist {
  return {
    ...allowlist,
    packages: new OpenPackages(allowlist.packages, allowlist.deny, false),
    rules: { ...allowlist.rules, ...SHADOW_RULES },
  };
}
