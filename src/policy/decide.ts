import type { Allowlist } from "../config/allowlist.js";
import type { IndexSet } from "../index/index-set.js";
import type { IndexClient, IndexFailure, ReleaseInfo } from "../index/types.js";
import { normalizeName } from "../requirement/name.js";
import type { Requirement } from "../requirement/types.js";
import { candidateVersions, evaluate, filesOf, MAX_CANDIDATES, predecessorOf, type PopularNamesInput } from "./evaluate.js";
import type { OsvSource } from "./malware.js";
import type { PopularNames } from "./popular-names.js";
import { withProvenance, type ProvenanceDeps } from "./provenance-rule.js";
import { evaluateVersion, type VersionVerdict } from "./release-rules.js";
import { indexNotChecked, routeName } from "./index-binding.js";
import type { Decision } from "./types.js";
import { exactPin } from "./versions.js";

/** The environment a request is judged for. */
export interface PolicyEnv {
  allowlist: Allowlist;
  /** the environment's interpreter version, e.g. "3.11.7" */
  pythonVersion: string;
}

/** What decide needs from the outside world, passed in so tests bring a real local index and a fixed clock. */
export interface PolicyDeps {
  /** the default index (`index:`) */
  index: IndexClient;
  /** every configured index; absent: the default only (no binding but `default`, no confusion check) */
  indexes?: IndexSet | undefined;
  now: () => Date;
  popularNames: PopularNames | PopularNamesInput;
  /** the offline OSV database (rules.osv), when configured: read once per decision */
  osv?: OsvSource | undefined;
  /** the provenance rule's trust root and first-install record (rules.provenance); absent: that rule fails closed when set */
  provenance?: ProvenanceDeps | undefined;
}

/**
 * Fetches what the pure evaluate needs — the project page, then JSON API metadata for the allowed
 * candidates only, newest first, stopping at the first that passes — and returns its decision. Names
 * that the deny list or allowlist already refuse never reach the index.
 */
export async function decide(requirement: Requirement, env: PolicyEnv, deps: PolicyDeps): Promise<Decision> {
  const now = deps.now();
  const popularNames = resolvePopular(deps.popularNames);
  const osv = deps.osv?.();
  const base = {
    requirement,
    allowlist: env.allowlist,
    pythonVersion: env.pythonVersion,
    now,
    popularNames,
    indexUrl: deps.index.url,
    osv,
    confusion: indexNotChecked("not checked: refused before it"),
  };
  const entry = env.allowlist.packages.get(requirement.normalized);
  const pin = exactPin(requirement.specifier);
  const staticDecision = evaluate({ ...base, project: undefined, releases: () => undefined });
  // Refusals that need no index (deny list, not allowlisted, pin outside the range) stop here.
  if (
    entry === undefined ||
    env.allowlist.deny.has(requirement.normalized) ||
    staticDecision.rules.some((rule) => rule.rule === "allowlist" && rule.outcome === "fail")
  ) {
    return staticDecision;
  }

  // Which index the name comes from, before anything is read from one: a confused name reads nothing.
  const routed = await routeName(requirement.normalized, env.allowlist.bindings?.get(requirement.normalized), deps);
  const judged = { ...base, indexUrl: routed.client.url, confusion: routed.verdict };
  if (routed.verdict.rule.outcome === "fail") return evaluate({ ...judged, project: undefined, releases: () => undefined });
  const index = routed.client;

  const page = await index.project(requirement.normalized);
  if (!page.ok) return evaluate({ ...judged, project: undefined, projectFailure: page.error, releases: () => undefined });
  const project = page.value;

  const releases = new Map<string, ReleaseInfo | undefined>();
  const fetchRelease = async (version: string): Promise<IndexFailure | undefined> => {
    if (releases.has(version)) return undefined;
    const answer = await index.release(requirement.normalized, version);
    if (answer.ok) releases.set(version, answer.value);
    else if (answer.error.kind === "not-found") releases.set(version, undefined);
    else return answer.error;
    return undefined;
  };

  const { allowed } = candidateVersions(requirement, entry.specifier, project);
  for (const version of allowed.slice(0, MAX_CANDIDATES)) {
    const failure = await fetchRelease(version);
    if (failure !== undefined) return evaluate({ ...judged, project: undefined, projectFailure: failure, releases: () => undefined });
    const judge = (predecessor: ReleaseInfo | undefined) =>
      evaluateVersion({
        name: requirement.normalized,
        version,
        files: filesOf(project, version),
        release: releases.get(version),
        predecessor,
        pinnedExactly: pin !== undefined,
        allowlist: env.allowlist,
        pythonVersion: env.pythonVersion,
        now,
        osv,
      });
    let verdict = judge(undefined);
    const predecessor = predecessorOf(project, version);
    // The vulnerability-fix exception reads the replaced release's advisories: fetch them only when that can matter.
    if (!verdict.passed && predecessor !== undefined && youngAndFixable(verdict, env.allowlist)) {
      const previousFailure = await fetchRelease(predecessor);
      if (previousFailure !== undefined) return evaluate({ ...judged, project: undefined, projectFailure: previousFailure, releases: () => undefined });
      verdict = judge(releases.get(predecessor));
    }
    if (verdict.passed) break;
  }
  const decision = evaluate({ ...judged, project, releases: (version) => releases.get(version) });
  // PEP 740 provenance: judged on the release the other rules chose (it needs I/O, so evaluate cannot),
  // from the index the name is routed to (its records are keyed by that index's URL).
  return withProvenance(decision, env.allowlist, index, deps.provenance, now);
}

/** The same rules for one already-resolved distribution (exact version): the sandbox's transitive check. */
export async function decideExact(name: string, version: string, env: PolicyEnv, deps: PolicyDeps): Promise<Decision> {
  const normalized = normalizeName(name);
  const requirement: Requirement = { raw: `${name}==${version}`, name, normalized, extras: [], specifier: `==${version}` };
  return decide(requirement, env, deps);
}

function youngAndFixable(verdict: VersionVerdict, allowlist: Allowlist): boolean {
  return allowlist.rules.allow_vulnerability_fix && verdict.rules.some((rule) => rule.rule === "release-age" && rule.outcome === "fail");
}

function resolvePopular(popular: PolicyDeps["popularNames"]): PopularNamesInput {
  if (isPopularNames(popular)) return popular.index();
  return popular;
}

function isPopularNames(value: PolicyDeps["popularNames"]): value is PopularNames {
  return !Array.isArray(value) && "names" in value && "index" in value;
}
