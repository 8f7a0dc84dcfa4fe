import type { Allowlist, PublisherChange } from "../config/allowlist.js";
import type { IndexClient, IndexFile } from "../index/types.js";
import { fetchProvenance, type ProvenanceDeps, type ProvenanceVerifier } from "../provenance/index.js";
import type { verifyProvenance as VerifyProvenance } from "../provenance/verify.js";
import { describeExemption, findExemptions } from "./exemptions.js";
import type { Decision, RuleResult } from "./types.js";

export type { ProvenanceDeps };

/** The most files of one release whose attestations are checked; a release with more is refused (fail closed). */
const MAX_FILES = 64;

/** The rule's entry before the index's attestations are read: off, or what the policy stage will check. */
export function provenancePlaceholder(mode: Allowlist["rules"]["provenance"]): RuleResult {
  return mode === "off"
    ? { rule: "provenance", outcome: "skip", detail: "not checked (rules.provenance: off)" }
    : { rule: "provenance", outcome: "skip", detail: `not checked: judged only for the chosen release (rules.provenance: ${mode})` };
}

/** `change`: the failure is a pin failure (publisher changed, attestation gone), which rules.provenance_change may send to a person. */
type Verdict = { result: RuleResult; hint?: string; identity?: string; change?: PublisherChange };

/**
 * The provenance rule on one release's files: every attestation the index serves must verify (trust
 * root, certificate claims against the named publisher, statement naming the file and its sha256);
 * `required` refuses a file without one; both modes hold the project to the publisher recorded at its
 * first install, naming both identities when it changed, and refuse a release without attestations
 * after one had them. An exemption (rule provenance) lets a release through, quoted in the detail.
 */
export async function checkProvenance(
  release: { name: string; version: string; files: readonly IndexFile[] },
  allowlist: Allowlist,
  index: IndexClient,
  deps: ProvenanceDeps | undefined,
  now: Date,
): Promise<Verdict> {
  const mode = allowlist.rules.provenance;
  if (mode === "off") return { result: provenancePlaceholder(mode) };
  const label = `${release.name} ${release.version}`;
  const fail = (detail: string, hint?: string): Verdict => {
    const exemption = findExemptions(allowlist.exemptions, "provenance", release.name, release.version, now).active;
    if (exemption !== undefined) return { result: { rule: "provenance", outcome: "pass", detail: `${detail}; exempted ${describeExemption(exemption)}` } };
    return {
      result: { rule: "provenance", outcome: "fail", detail },
      hint: hint ?? "ask a maintainer to check the release's provenance; an exemption (rule provenance) lets one release through",
    };
  };
  if (deps === undefined) return fail(`rules.provenance: ${mode} is set but no trust root is configured; refusing (fail closed)`);
  if (release.files.length > MAX_FILES) return fail(`${label} has ${release.files.length} files, more than the ${MAX_FILES} whose attestations are checked`);

  const identities = new Map<string, string[]>();
  const unattested: string[] = [];
  let verifier: ProvenanceVerifier | undefined;
  // Loaded with the first attestation: Sigstore's libraries are memory a broker without provenance never needs.
  let verifyProvenance: typeof VerifyProvenance | undefined;
  for (const file of release.files) {
    if (file.sha256 === undefined) return fail(`${file.filename}: the index gives no sha256, so no attestation can be bound to it`);
    const fetched = await fetchProvenance(index, file);
    if (!fetched.ok) return fail(fetched.error, "try again when the index serves the provenance it names");
    if (fetched.value.kind === "none") {
      unattested.push(file.filename);
      continue;
    }
    if (verifier === undefined) {
      const made = await deps.verifier();
      if (!made.ok) return fail(made.error);
      verifier = made.value;
    }
    verifyProvenance ??= (await import("../provenance/verify.js")).verifyProvenance;
    const verified = verifyProvenance(fetched.value.provenance, { filename: file.filename, sha256: file.sha256 }, verifier);
    if (!verified.ok) return fail(verified.error);
    identities.set(verified.value.identity, [...(identities.get(verified.value.identity) ?? []), file.filename]);
  }

  if (identities.size > 1) {
    const listed = [...identities].map(([identity, files]) => `${files.join(", ")} by ${identity}`).join("; ");
    return fail(`${label}'s files name different publishers: ${listed}`);
  }
  const [identity] = identities.keys();
  const record = await deps.store.get(index.url, release.name);
  const recorded = record === undefined ? undefined : `published by ${record.publisher} (recorded at the first install, ${record.firstVersion})`;
  if (mode === "required" && unattested.length > 0) {
    return fail(
      `${label}: ${unattested.join(", ")} ${unattested.length === 1 ? "has" : "have"} no attestation (rules.provenance: required)${recorded === undefined ? "" : `; ${release.name} was ${recorded}`}`,
    );
  }
  // A pin failure: the project's recorded publisher against what this release shows. rules.provenance_change
  // decides whether a person may approve it; the approval's allowlist lets exactly that change through.
  const changed = (detail: string, change: PublisherChange): Verdict => {
    const action = allowlist.rules.provenance_change;
    const lifted = action === "approval" ? liftedFor(allowlist.provenanceLift, release, change) : undefined;
    if (lifted !== undefined) {
      return { result: { rule: "provenance", outcome: "pass", detail: `${detail}; ${lifted}` }, ...(change.seen === null ? {} : { identity: change.seen }) };
    }
    const verdict = fail(`${detail} (provenance_change: ${action})`, action === "approval" ? approvalHint : takeoverHint);
    return verdict.result.outcome === "fail" ? { ...verdict, change } : verdict;
  };
  if (record !== undefined && identity === undefined) {
    return changed(`${release.name} was ${recorded}, but ${release.version} has no attestation: its provenance disappeared`, {
      recorded: record.publisher,
      seen: null,
    });
  }
  if (record !== undefined && unattested.length > 0) {
    return changed(`${release.name} was ${recorded}, but ${release.version} has no attestation for ${unattested.join(", ")}`, {
      recorded: record.publisher,
      seen: identity ?? null,
    });
  }
  if (record !== undefined && identity !== undefined && identity !== record.publisher) {
    return changed(`${release.name} was ${recorded}, but ${release.version} was published by ${identity}`, { recorded: record.publisher, seen: identity });
  }
  if (identity === undefined) {
    return {
      result: {
        rule: "provenance",
        outcome: "pass",
        detail: `${label} has no attestations on the index and none were recorded before (rules.provenance: pinned)`,
      },
    };
  }
  const count = release.files.length - unattested.length;
  const attested = `${count} file${count === 1 ? "" : "s"} attested by ${identity}`;
  const more = unattested.length > 0 ? `; ${unattested.join(", ")} without` : "";
  const against = record === undefined ? "; recorded as the publisher at the first install" : ", the publisher recorded at the first install";
  return { result: { rule: "provenance", outcome: "pass", detail: `${label}: ${attested}${more}${against}` }, identity };
}

const takeoverHint =
  "a changed or vanished publisher can mean a taken-over account: ask a maintainer to confirm the new publisher (`pipgate provenance forget PROJECT`, or an exemption for rule provenance) before installing";

const approvalHint =
  "a changed or vanished publisher can mean a taken-over account; with provenance_change: approval a person may approve this install (pipgate approvals), which records the new publisher";

/**
 * Whether an approval's allowlist lets this pin failure through: `any` while a set is resolved to be
 * put to a person; a map only for the release approved, with the same recorded and seen identities.
 */
function liftedFor(lift: Allowlist["provenanceLift"], release: { name: string; version: string }, change: PublisherChange): string | undefined {
  if (lift === undefined) return undefined;
  if (lift === "any") return "held for a person to approve (provenance_change: approval)";
  const approved = lift.get(release.name);
  if (approved === undefined || approved.version !== release.version || approved.recorded !== change.recorded || approved.seen !== change.seen)
    return undefined;
  return "this change was approved (provenance_change: approval)";
}

/** The decision with the provenance rule applied to its chosen release: a failure turns it into a refusal. */
export async function withProvenance(
  decision: Decision,
  allowlist: Allowlist,
  index: IndexClient,
  deps: ProvenanceDeps | undefined,
  now: Date,
): Promise<Decision> {
  if (!decision.allowed || allowlist.rules.provenance === "off") return decision;
  const verdict = await checkProvenance({ name: decision.name, version: decision.version, files: decision.files }, allowlist, index, deps, now);
  const rules = decision.rules.some((rule) => rule.rule === "provenance")
    ? decision.rules.map((rule) => (rule.rule === "provenance" ? verdict.result : rule))
    : [...decision.rules, verdict.result];
  if (verdict.result.outcome !== "fail") return { ...decision, rules };
  return {
    allowed: false,
    name: decision.name,
    version: decision.version,
    rules,
    reason: `${decision.name} ${decision.version} is refused: ${verdict.result.detail} (provenance)`,
    ...(verdict.hint === undefined ? {} : { hint: verdict.hint }),
    ...(verdict.change === undefined ? {} : { provenanceChange: verdict.change }),
  };
}

/** A publisher record an approved install moved (rules.provenance_change: approval), for the audit record. */
export interface Repinned {
  project: string;
  from: string;
  to: string;
}

/**
 * After a commit: records, for every installed distribution of a project under a provenance rule that
 * has none recorded yet, the publisher its attestations verified for (its file found on the index by
 * the sha256 installed). `changes` are the publisher changes a person approved for this install
 * (approvals/open-allowlist.ts approvedChanges): such a project's record moves from the publisher the
 * approver saw to the one approved, once the installed file's attestation verified for it again; an
 * approved release without an attestation leaves the record as it is, so the next one is held again.
 * Errors are returned for the log: the install already happened, and a missing record only means the
 * next release is judged as a first one (or held again).
 */
export async function recordProvenance(
  wheels: readonly { name: string; version: string; sha256: string }[],
  allowlist: Allowlist,
  /** the index each installed name came from (its binding, or the default); undefined fails that name */
  indexOf: (name: string) => IndexClient | undefined,
  deps: ProvenanceDeps | undefined,
  now: Date,
  changes: ReadonlyMap<string, PublisherChange & { version: string }> = new Map(),
): Promise<{ recorded: { project: string; publisher: string }[]; repinned: Repinned[]; errors: string[] }> {
  const recorded: { project: string; publisher: string }[] = [];
  const repinned: Repinned[] = [];
  const errors: string[] = [];
  if (deps === undefined || allowlist.rules.provenance === "off") return { recorded, repinned, errors };
  for (const wheel of wheels) {
    const index = indexOf(wheel.name);
    if (index === undefined) {
      errors.push(`${wheel.name}: its allowlist binding names no configured index`);
      continue;
    }
    const page = await index.project(wheel.name);
    if (!page.ok) {
      errors.push(`${wheel.name}: ${page.error.message}`);
      continue;
    }
    const project = page.value.name;
    const file = page.value.files.find((candidate) => candidate.sha256 === wheel.sha256);
    const current = await deps.store.get(index.url, project);
    if (current !== undefined) {
      const change = changes.get(project);
      if (change === undefined || change.seen === null || change.seen === change.recorded || change.version !== wheel.version) continue;
      if (current.publisher === change.seen) continue; // moved already (another broker ran the same approval)
      const to = change.seen;
      const unmoved = `${project}: the approved publisher change from ${change.recorded} to ${to} was not recorded`;
      if (current.publisher !== change.recorded) {
        errors.push(`${unmoved}: the record names ${current.publisher} now`);
        continue;
      }
      if (file?.provenanceUrl === undefined) {
        errors.push(`${unmoved}: the installed file has no attestation on the index`);
        continue;
      }
      const lifted = { ...allowlist, provenanceLift: new Map([[project, change]]) };
      const verdict = await checkProvenance({ name: project, version: wheel.version, files: [file] }, lifted, index, deps, now);
      if (verdict.identity !== to) {
        errors.push(`${unmoved}: ${verdict.result.detail}`);
        continue;
      }
      const moved = await deps.store.repin(change.recorded, { indexUrl: index.url, project, publisher: to, firstVersion: wheel.version, recordedAt: now });
      if (moved) repinned.push({ project, from: change.recorded, to });
      else errors.push(`${unmoved}: the record changed meanwhile`);
      continue;
    }
    if (file === undefined || file.provenanceUrl === undefined) continue;
    const verdict = await checkProvenance({ name: project, version: wheel.version, files: [file] }, allowlist, index, deps, now);
    if (verdict.identity === undefined) {
      if (verdict.result.outcome === "fail") errors.push(verdict.result.detail);
      continue;
    }
    const kept = await deps.store.recordFirst({ indexUrl: index.url, project, publisher: verdict.identity, firstVersion: wheel.version, recordedAt: now });
    if (kept.publisher === verdict.identity && kept.firstVersion === wheel.version) recorded.push({ project, publisher: verdict.identity });
  }
  return { recorded, repinned, errors };
}
