import { randomUUID } from "node:crypto";
import type { AllowedPackage, Allowlist } from "../config/allowlist.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import { inspectEnvironment } from "../commit/interpreter.js";
import { decideExact, type Decision } from "../policy/index.js";
import type { Requirement } from "../requirement/index.js";
import { imageFor, pythonMinor } from "../sandbox/spec.js";
import type { PipelineDeps, Progress, SandboxStageDeps, VerifyStageDeps } from "./deps.js";
import type { ResolvedItem } from "./pip-report.js";
import { resolveInSandbox, type SandboxJob } from "./resolve-in-sandbox.js";
import { chainOf, treeCheckAnswer, type TreeCheckJson, type TreeRefusal } from "./tree.js";

/**
 * Whole-tree decisions: the full set a request resolves to, resolved in the sandbox as an install
 * would (never on the host) but with the unlisted names visible (checkFilterFor), then every resolved
 * distribution held to the environment's policy. A check's answer is names, versions and verdicts: it
 * has no files, so nothing it resolved can be committed.
 */

export type TreeOutcome =
  | { ok: true; items: readonly ResolvedItem[]; refused: TreeRefusal[]; sandbox: Record<string, unknown> }
  | { ok: false; status: "denied" | "failed" | "timed-out"; message: string; sandbox: Record<string, unknown> | undefined };

type Hooks = { progress?: (progress: Progress) => void; signal?: AbortSignal | undefined };

/** The allowlist with `extra` names allowed too (what the allowlist command would write). */
export function allowlistWith(allowlist: Allowlist, extra: ReadonlyArray<{ name: string; specifier: string }>): Allowlist {
  const packages = new Map<string, AllowedPackage>(allowlist.packages);
  for (const entry of extra) packages.set(entry.name, { name: entry.name, specifier: entry.specifier });
  return { ...allowlist, packages };
}

function failedRule(decision: Extract<Decision, { allowed: false }>): TreeRefusal["rule"] {
  return decision.rules.find((rule) => rule.outcome === "fail")?.rule ?? "allowlist";
}

/**
 * Every distribution of a resolved set that policy refuses, with its chain and rule. One refused only
 * for not being listed is `allowable` when, allowed at its resolved version, every other rule passes.
 */
export async function judgeTree(deps: VerifyStageDeps, env: EnvironmentRuntime, items: readonly ResolvedItem[]): Promise<TreeRefusal[]> {
  const refused: TreeRefusal[] = [];
  for (const item of items) {
    const decision = await decideExact(item.name, item.version, env, deps.policyDeps);
    if (decision.allowed) continue;
    refused.push({
      name: item.name,
      version: item.version,
      chain: chainOf(items, item.name),
      rule: failedRule(decision),
      reason: decision.reason,
      allowable: false,
    });
  }
  const unlisted = refused.filter((entry) => entry.rule === "allowlist" && !env.allowlist.deny.has(entry.name));
  if (unlisted.length === 0) return refused;
  const allowed = {
    ...env,
    allowlist: allowlistWith(
      env.allowlist,
      unlisted.map((entry) => ({ name: entry.name, specifier: `==${entry.version}` })),
    ),
  };
  for (const entry of unlisted) {
    const again = await decideExact(entry.name, entry.version, allowed, deps.policyDeps);
    if (again.allowed) {
      entry.allowable = true;
      continue;
    }
    entry.rule = failedRule(again);
    entry.reason = `${entry.reason}; allowed, it would still be refused: ${again.reason}`;
  }
  return refused;
}

/** A decision-only resolution of `job` in the sandbox, then the verdict on every distribution it resolved. */
export async function resolveTree(
  deps: SandboxStageDeps & VerifyStageDeps & Pick<PipelineDeps, "inspector">,
  env: EnvironmentRuntime,
  job: Omit<SandboxJob, "mode">,
  hooks: Hooks,
): Promise<TreeOutcome> {
  const resolved = await resolveInSandbox(deps, env, { ...job, mode: "check" }, hooks);
  if (!resolved.ok) return resolved;
  const items = resolved.items ?? [];
  hooks.progress?.({ stage: "verifying", message: `holding ${items.length} resolved distribution(s) to ${env.name}'s policy` });
  return { ok: true, items, refused: await judgeTree(deps, env, items), sandbox: resolved.sandbox };
}

/**
 * The tree of an allowed decision, for `check_package` with `resolve` and `pipgate allowlist add
 * --with-deps`: the sandbox image checked as an install checks it, the environment's installed set
 * passed to the resolver (pip keeps what satisfies), the root pinned to the decided version.
 */
export async function treeOfDecision(
  deps: SandboxStageDeps & VerifyStageDeps & Pick<PipelineDeps, "inspector">,
  env: EnvironmentRuntime,
  decision: Extract<Decision, { allowed: true }>,
  requirement: Requirement,
  options: { upgrade: boolean; timeout: number },
  hooks: Hooks = {},
): Promise<TreeOutcome> {
  const inspected = await inspectEnvironment(env.python, deps.inspector);
  if (!inspected.ok) return { ok: false, status: "failed", message: `cannot list the packages of ${env.name}: ${inspected.error}`, sandbox: undefined };
  const image = imageFor(env.pythonVersion, deps.sandboxConfig.image);
  const imagePython = await deps.sandbox.imagePython(image);
  if (imagePython === undefined) {
    return { ok: false, status: "failed", message: `the sandbox image ${image} is missing; build it with \`pipgate sandbox build-image\``, sandbox: undefined };
  }
  if (imagePython !== pythonMinor(env.pythonVersion)) {
    return {
      ok: false,
      status: "failed",
      message: `the sandbox image ${image} carries Python ${imagePython} but ${env.name} runs Python ${pythonMinor(env.pythonVersion)}; build a matching image`,
      sandbox: undefined,
    };
  }
  const extras = requirement.extras.length > 0 ? `[${requirement.extras.join(",")}]` : "";
  const job = {
    pinned: `${decision.name}${extras}==${decision.version}`,
    image,
    upgrade: options.upgrade,
    installed: inspected.value.installed,
    timeout: options.timeout,
    requestId: `chk_${randomUUID()}`,
    decision,
  };
  return resolveTree(deps, env, job, hooks);
}

/** check_package's and `pipgate check --resolve`'s tree: resolved in the sandbox, every distribution judged. */
export async function checkTree(
  deps: SandboxStageDeps & VerifyStageDeps & Pick<PipelineDeps, "inspector">,
  env: EnvironmentRuntime,
  decision: Extract<Decision, { allowed: true }>,
  requirement: Requirement,
  timeout: number,
  hooks: Hooks = {},
): Promise<{ json: TreeCheckJson; text: string }> {
  const tree = await treeOfDecision(deps, env, decision, requirement, { upgrade: false, timeout }, hooks);
  if (!tree.ok) {
    const message = `the tree could not be resolved (${tree.status}): ${tree.message}`;
    return { json: { allowed: false, resolved: [], refused: [], message }, text: `tree: ${message}` };
  }
  const root = { name: decision.name, version: decision.version, specifier: env.allowlist.packages.get(decision.name)?.specifier ?? "" };
  return treeCheckAnswer(root, env.name, tree.items, tree.refused);
}
