import { shadowAllowlist } from "../approvals/open-allowlist.js";
import type { AuditBody } from "../audit/types.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import { decideExact, type Decision, type PolicyDeps } from "../policy/index.js";
import { normalizeName } from "../requirement/name.js";

export type ShadowRecord = NonNullable<AuditBody["shadow"]>;
type Refusal = ShadowRecord["refusals"][number];

/**
 * Shadow mode, for rolling pipgate out where a team has habits: the request runs against an allowlist
 * that lets every name through at any version with the metadata rules lifted (approvals/open-allowlist.ts),
 * and the real policy's verdict — on the request and on every distribution of the resolved set — is
 * audited as "would deny". What stays hard: argument validation, grants and limits (before the pipeline),
 * the deny list, the sandbox, the proxy's hash checks, wheel inspection and the commit's checks.
 */
export function shadowEnvironment(env: EnvironmentRuntime): EnvironmentRuntime {
  return { ...env, allowlist: shadowAllowlist(env.allowlist) };
}

function refusalOf(decision: Decision & { allowed: false }): Refusal {
  return {
    name: decision.name,
    ...(decision.version === undefined ? {} : { version: decision.version }),
    rules: decision.rules.filter((rule) => rule.outcome === "fail").map((rule) => rule.rule),
    reason: decision.reason,
  };
}

/** What enforcing would have said of the request itself, from the real policy's decision. */
export function shadowOfRequest(decision: Decision): ShadowRecord {
  return decision.allowed ? { mode: "shadow", would_deny: false, refusals: [] } : { mode: "shadow", would_deny: true, refusals: [refusalOf(decision)] };
}

/** Adds what enforcing would have said of each resolved distribution (the requested one's exact release too). */
export async function shadowOfSet(
  record: ShadowRecord,
  wheels: ReadonlyArray<{ name: string; version: string }>,
  real: EnvironmentRuntime,
  deps: PolicyDeps,
): Promise<ShadowRecord> {
  const refusals = [...record.refusals];
  for (const wheel of wheels) {
    const name = normalizeName(wheel.name);
    if (refusals.some((refusal) => refusal.name === name)) continue;
    const exact = await decideExact(name, wheel.version, real, deps);
    if (!exact.allowed) refusals.push(refusalOf(exact));
  }
  return { mode: "shadow", would_deny: refusals.length > 0, refusals };
}

/** The one line an auditor reads in `audit list`: which distributions, by which rules. */
export function shadowReason(record: ShadowRecord): string {
  return `shadow mode: would deny ${record.refusals.map((refusal) => `${refusal.name}${refusal.version === undefined ? "" : ` ${refusal.version}`} (${refusal.rules.join(", ") || "policy"}: ${refusal.reason})`).join("; ")}`;
}
