import type { Allowlist } from "../config/allowlist.js";
import type { IndexFailure, IndexFile, ProjectInfo, ReleaseInfo } from "../index/types.js";
import type { Requirement } from "../requirement/types.js";
import type { OsvView } from "./malware.js";
import { checkNewProject } from "./new-project.js";
import { checkUnknownName } from "./unknown-name.js";
import { indexNotChecked, type IndexVerdict } from "./index-binding.js";
import { evaluateVersion, type VersionVerdict } from "./release-rules.js";
import { createNameIndex, type NameIndex } from "./typosquat.js";
import { RULE_NAMES, type Decision, type RuleName, type RuleResult } from "./types.js";
import { compareVersions, exactPin, isPrerelease, matchesSpecifier, namesPrerelease, newestFirst } from "./versions.js";

/** The popular-names reference: a prebuilt index (fast, the server's), or a plain list (built per call). */
export type PopularNamesInput = readonly string[] | NameIndex;

/** Everything a decision depends on, already fetched: evaluate itself does no I/O. */
export interface EvaluateInput {
  requirement: Requirement;
  allowlist: Allowlist;
  /** the index's project page; undefined when it could not be had (see projectFailure) */
  project: ProjectInfo | undefined;
  projectFailure?: IndexFailure | undefined;
  /** JSON API metadata by version; undefined = none published (or not fetched: versions after the chosen one) */
  releases: (version: string) => ReleaseInfo | undefined;
  /** the environment's interpreter, e.g. "3.11.7" */
  pythonVersion: string;
  now: Date;
  popularNames: PopularNamesInput;
  /** for messages: which index was asked */
  indexUrl?: string | undefined;
  /** the offline OSV database (rules.osv), when configured */
  osv?: OsvView | undefined;
  /** the dependency-confusion rule's verdict (policy/index-binding.ts); absent: not checked */
  confusion?: IndexVerdict | undefined;
}

/** How many matching releases are examined, newest first, before giving up. */
export const MAX_CANDIDATES = 20;

/** The rules that read the index's metadata: RULE_NAMES lists them after the name rules, from "exists" on. */
const METADATA_RULES: readonly RuleName[] = RULE_NAMES.slice(RULE_NAMES.indexOf("exists"));

/** The versions a requirement may resolve to under an allowlist, newest first, and why the list may be empty. */
export function candidateVersions(
  requirement: Requirement,
  allowedSpecifier: string,
  project: ProjectInfo,
): { matching: string[]; allowed: string[]; prereleases: boolean } {
  const prereleases = namesPrerelease(requirement.specifier) || namesPrerelease(allowedSpecifier) || exactPin(requirement.specifier) !== undefined;
  const matching = newestFirst(project.versions).filter((version) => matchesSpecifier(version, requirement.specifier, prereleases));
  const allowed = matching.filter((version) => matchesSpecifier(version, allowedSpecifier, prereleases));
  return { matching, allowed, prereleases };
}

/** The release a version replaces: the newest older one (final releases only, unless the version is a pre-release). */
export function predecessorOf(project: ProjectInfo, version: string): string | undefined {
  const pre = isPrerelease(version);
  return newestFirst(project.versions).find((other) => compareVersions(other, version) < 0 && (pre || !isPrerelease(other)));
}

/**
 * The policy decision, a pure function of its input. Order: deny list (wins), allowlist (fail closed),
 * typosquat, then the release rules on each allowed candidate, newest first; the first that passes
 * every rule is chosen.
 */
export function evaluate(input: EvaluateInput): Decision {
  const { requirement, allowlist } = input;
  const name = requirement.normalized;
  const entry = allowlist.packages.get(name);
  const denied = allowlist.deny.has(name);
  const rules: RuleResult[] = [];
  const skipRest = (detail: string) => METADATA_RULES.map((rule): RuleResult => ({ rule, outcome: "skip", detail }));

  rules.push(
    denied
      ? { rule: "deny", outcome: "fail", detail: `${name} is on the deny list` }
      : { rule: "deny", outcome: "pass", detail: `${name} is not on the deny list` },
  );
  const allowedText = entry === undefined ? "" : `${entry.name}${entry.specifier === "" ? " (any version)" : ` ${entry.specifier}`}`;
  const lookalike = entry === undefined && allowlist.rules.typosquat ? findLookalike(name, allowlist, input.popularNames) : undefined;
  const typosquat: RuleResult = !allowlist.rules.typosquat
    ? { rule: "typosquat", outcome: "skip", detail: "not checked (rules.typosquat: false)" }
    : entry !== undefined
      ? { rule: "typosquat", outcome: "pass", detail: `${name} is on the allowlist itself` }
      : lookalike !== undefined
        ? { rule: "typosquat", outcome: "fail", detail: `${name} ${lookalike.why}${lookalike.allowed ? " (allowlisted)" : " (a popular project)"}` }
        : { rule: "typosquat", outcome: "pass", detail: `${name} is not close to any allowlisted or popular name` };

  const unknownName = checkUnknownName(name, entry !== undefined, allowlist, input.popularNames);
  const confusion = input.confusion ?? indexNotChecked("not checked");
  const nameRules = [typosquat, unknownName, confusion.rule];

  if (denied) {
    rules.push({ rule: "allowlist", outcome: "skip", detail: "not checked: the deny list wins" }, ...nameRules, ...skipRest("not checked: denied"));
    return {
      allowed: false,
      name,
      rules,
      reason: `${name} is on the deny list of ${allowlist.source}`,
      hint: "this project may not be installed in this environment",
    };
  }
  if (entry === undefined) {
    rules.push(
      { rule: "allowlist", outcome: "fail", detail: `${name} is not on the allowlist` },
      ...nameRules,
      ...skipRest("not checked: not on the allowlist"),
    );
    if (lookalike !== undefined) {
      return {
        allowed: false,
        name,
        rules,
        reason: `${name} is not on the allowlist and ${lookalike.why}: did you mean ${lookalike.name}?`,
        hint: lookalike.allowed
          ? `did you mean ${lookalike.name}? (allowed: ${describeAllowed(allowlist, lookalike.name)})`
          : `did you mean ${lookalike.name}? It is not on the allowlist either; ask a maintainer`,
        suggestion: lookalike.name,
      };
    }
    if (unknownName.outcome === "fail") {
      return {
        allowed: false,
        name,
        rules,
        reason: `${name} is not on the allowlist and ${unknownName.detail.slice(name.length + 1)}`,
        hint: allowedSummary(allowlist),
      };
    }
    return { allowed: false, name, rules, reason: `${name} is not on the allowlist`, hint: allowedSummary(allowlist) };
  }

  const pin = exactPin(requirement.specifier);
  if (pin !== undefined && !matchesSpecifier(pin, entry.specifier, true)) {
    rules.push(
      { rule: "allowlist", outcome: "fail", detail: `${name} ${pin} is outside the allowed range; allowed: ${allowedText}` },
      ...nameRules,
      ...skipRest("not checked: version not allowed"),
    );
    return {
      allowed: false,
      name,
      version: pin,
      rules,
      reason: `${name} ${pin} is not allowed; allowed: ${allowedText}`,
      hint: `request a version within: ${allowedText}`,
    };
  }

  if (confusion.rule.outcome === "fail") {
    rules.push(
      { rule: "allowlist", outcome: "pass", detail: `allowed: ${allowedText}` },
      ...nameRules,
      ...skipRest("not checked: which index to trust is unsettled"),
    );
    return {
      allowed: false,
      name,
      ...(pin === undefined ? {} : { version: pin }),
      rules,
      reason: `${confusion.rule.detail} (dependency-confusion)`,
      ...(confusion.hint === undefined ? {} : { hint: confusion.hint }),
    };
  }

  const project = input.project;
  if (project === undefined) {
    const reason = describeIndexFailure(name, input.projectFailure, input.indexUrl);
    rules.push(
      { rule: "allowlist", outcome: "pass", detail: `allowed: ${allowedText}` },
      ...nameRules,
      { rule: "exists", outcome: "fail", detail: reason },
      ...skipRest("not checked: no index metadata").slice(1),
    );
    return {
      allowed: false,
      name,
      ...(pin === undefined ? {} : { version: pin }),
      rules,
      reason,
      hint: input.projectFailure?.kind === "not-found" ? "check the project's name" : "try again when the index is reachable",
    };
  }

  const { matching, allowed } = candidateVersions(requirement, entry.specifier, project);
  const wanted = requirement.specifier === "" ? "any version" : requirement.specifier;
  if (matching.length === 0) {
    const newest = newestFirst(project.versions)[0];
    const detail = newest === undefined ? `${name} has no releases on the index` : `no release of ${name} matches ${wanted} on the index (newest: ${newest})`;
    rules.push(
      { rule: "allowlist", outcome: "pass", detail: `allowed: ${allowedText}` },
      ...nameRules,
      { rule: "exists", outcome: "fail", detail },
      ...skipRest("not checked: no matching release").slice(1),
    );
    return { allowed: false, name, ...(pin === undefined ? {} : { version: pin }), rules, reason: detail, hint: `allowed: ${allowedText}` };
  }
  if (allowed.length === 0) {
    const detail = `no release of ${name} matching ${wanted} is allowed; allowed: ${allowedText}`;
    rules.push({ rule: "allowlist", outcome: "fail", detail }, ...nameRules, ...skipRest("not checked: no allowed release"));
    return { allowed: false, name, rules, reason: detail, hint: `request a version within: ${allowedText}` };
  }

  const prefix: RuleResult[] = [...rules, { rule: "allowlist", outcome: "pass", detail: `allowed: ${allowedText}` }, ...nameRules];
  // Project-level, so judged once: it follows `exists` in every version's rule list.
  const newProject = checkNewProject(project, allowlist.rules, input.now);
  const withProject = (versionRules: readonly RuleResult[]): RuleResult[] => [...versionRules.slice(0, 1), newProject, ...versionRules.slice(1)];
  if (newProject.outcome === "fail") {
    return {
      allowed: false,
      name,
      ...(pin === undefined ? {} : { version: pin }),
      rules: [
        ...prefix,
        { rule: "exists", outcome: "pass", detail: `${name} is on the index` },
        newProject,
        ...skipRest("not checked: the project looks new").slice(2),
      ],
      reason: `${name} is refused: ${newProject.detail.replace(`${name} looks new: `, "")} (new-project)`,
      hint:
        allowlist.rules.new_project === "approval"
          ? "a project this new may be a squat or a name no one meant; with new_project: approval a person may approve this install (pipgate approvals)"
          : "a project this new may be a squat or a name no one meant; ask a maintainer to review it and lower the bound for it if it is genuine",
    };
  }
  const examined = allowed.slice(0, MAX_CANDIDATES);
  const skipped: { version: string; verdict: VersionVerdict }[] = [];
  for (const version of examined) {
    const predecessor = predecessorOf(project, version);
    const verdict = evaluateVersion({
      name,
      version,
      files: filesOf(project, version),
      release: input.releases(version),
      predecessor: predecessor === undefined ? undefined : input.releases(predecessor),
      pinnedExactly: pin !== undefined,
      allowlist,
      pythonVersion: input.pythonVersion,
      now: input.now,
      osv: input.osv,
    });
    if (verdict.passed) {
      return {
        allowed: true,
        name,
        version,
        files: verdict.files,
        rules: [...prefix, ...withProject(verdict.rules)],
        summary: summarize(name, version, pin, entry.specifier, skipped),
      };
    }
    skipped.push({ version, verdict });
  }

  const first = skipped[0];
  const firstFailure = (verdict: VersionVerdict) => verdict.rules.find((rule) => rule.outcome === "fail");
  const listed = skipped
    .slice(0, 3)
    .map(({ version, verdict }) => `${version} (${firstFailure(verdict)?.rule ?? "?"}: ${firstFailure(verdict)?.detail ?? ""})`);
  const more = allowed.length - Math.min(skipped.length, 3);
  const reason =
    skipped.length === 1 && first !== undefined
      ? `${name} ${first.version}: ${firstFailure(first.verdict)?.detail ?? "refused"}`
      : `no release of ${name} matching ${wanted} passes every rule: ${listed.join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
  return {
    allowed: false,
    name,
    ...(first === undefined ? {} : { version: first.version }),
    rules: [...prefix, ...withProject(first?.verdict.rules ?? [])],
    reason,
    ...(first?.verdict.hint === undefined ? {} : { hint: first.verdict.hint }),
  };
}

/** A version's files; filenames may spell the version differently (1.0 vs 1.0.0), so compare as PEP 440. */
export function filesOf(project: ProjectInfo, version: string): IndexFile[] {
  return project.files.filter((file) => file.version === version || sameVersion(file.version, version));
}

function sameVersion(a: string, b: string): boolean {
  try {
    return compareVersions(a, b) === 0;
  } catch {
    return false;
  }
}

function summarize(
  name: string,
  version: string,
  pin: string | undefined,
  allowedSpecifier: string,
  skipped: { version: string; verdict: VersionVerdict }[],
): string {
  const base =
    pin !== undefined
      ? `${name} ${version}, as pinned, passes every rule`
      : `chose ${name} ${version}: the newest release${allowedSpecifier === "" ? "" : ` within ${allowedSpecifier}`} that passes every rule`;
  if (skipped.length === 0) return base;
  const reasons = skipped.map(({ version: v, verdict }) => {
    const failure = verdict.rules.find((rule) => rule.outcome === "fail");
    return `${v} (${failure?.rule ?? "?"}: ${failure?.detail ?? ""})`;
  });
  return `${base}; skipped ${reasons.join("; ")}`;
}

function describeAllowed(allowlist: Allowlist, name: string): string {
  const entry = allowlist.packages.get(name);
  if (entry === undefined) return name;
  return `${entry.name}${entry.specifier === "" ? " (any version)" : ` ${entry.specifier}`}`;
}

/** The refusal text when the index gave no project page. */
export function describeIndexFailure(name: string, failure: IndexFailure | undefined, indexUrl: string | undefined): string {
  const index = indexUrl === undefined ? "the index" : `the index ${indexUrl}`;
  switch (failure?.kind) {
    case "not-found":
      return `${name} does not exist on ${index}`;
    case "invalid":
      return `${index} answered for ${name} with something pipgate cannot read (${failure.message}); refusing (fail closed)`;
    case "unreachable":
    case undefined:
      return `${index} could not be reached${failure === undefined ? "" : ` (${failure.message})`} and no fresh metadata is cached; refusing (fail closed)`;
  }
}

function findLookalike(name: string, allowlist: Allowlist, popular: PopularNamesInput): { name: string; why: string; allowed: boolean } | undefined {
  const allowedIndex = createNameIndex(allowlist.packages.keys());
  const fromAllowlist = allowedIndex.lookalike(name);
  if (fromAllowlist !== undefined) return { ...fromAllowlist, allowed: true };
  const popularIndex = isNameIndex(popular) ? popular : createNameIndex(popular);
  // A popular project is a real project, not a squat on another popular one.
  if (popularIndex.has(name)) return undefined;
  const fromPopular = popularIndex.lookalike(name);
  return fromPopular === undefined ? undefined : { ...fromPopular, allowed: false };
}

function isNameIndex(value: PopularNamesInput): value is NameIndex {
  return !Array.isArray(value);
}

/** What an agent may ask for instead of an unlisted name: the first few allowed projects, and where to see all. */
function allowedSummary(allowlist: Allowlist): string {
  const names = [...allowlist.packages.values()].map((entry) => `${entry.name} ${entry.specifier === "" ? "*" : entry.specifier}`).sort();
  if (names.length === 0) return "this environment's allowlist permits nothing yet; ask a maintainer to add what you need";
  const shown = names.slice(0, 10).join(", ");
  const more = names.length > 10 ? ` and ${names.length - 10} more (list_allowed_packages shows them all)` : "";
  return `allowed in this environment: ${shown}${more}; ask a maintainer to add anything else`;
}
