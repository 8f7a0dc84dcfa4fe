import { parse as parseYaml } from "yaml";
import { buildAllowlist } from "../config/allowlist.js";
import type { Rules } from "../config/allowlist-schema.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import { errorMessage } from "../errors.js";
import { judgeTree, treeOfDecision } from "../pipeline/check-tree.js";
import type { PipelineDeps, Progress } from "../pipeline/deps.js";
import type { TreeRefusal } from "../pipeline/tree.js";
import { decide, type Decision } from "../policy/index.js";
import { parseRequirement } from "../requirement/index.js";
import { closureEntries, type ClosureEntry, type ClosureStyle } from "./closure.js";
import { setPackage, type EditResult } from "./edit.js";
import type { PackageChange } from "./validate.js";

/**
 * `pipgate allowlist add NAME SPEC --with-deps`: the edit that allows a project with everything it
 * needs. The project is set first (in a copy of the text), its tree resolved in the sandbox against
 * that copy as an install would, the closure added with a comment per line, and the whole result
 * judged again as the server would load it: every distribution of the set must pass, or nothing is
 * written. The caller writes the one returned text atomically.
 */

export type WithDepsPlan =
  | {
      ok: true;
      text: string;
      root: Extract<EditResult, { ok: true }>;
      version: string;
      added: Array<ClosureEntry & { action: "added" | "updated" }>;
      resolved: Array<{ name: string; version: string }>;
    }
  | { ok: false; kind: "edit" | "denied" | "failed"; error: string; refused?: TreeRefusal[] };

/** The environment as it would be with `text` as its allowlist, or the problems that file would have. */
function withText(env: EnvironmentRuntime, text: string, rules: Partial<Rules>): { ok: true; env: EnvironmentRuntime } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
  const built = buildAllowlist(raw ?? {}, rules, env.allowlistPath);
  return built.ok ? { ok: true, env: { ...env, allowlist: built.allowlist } } : { ok: false, error: built.issues.join("; ") };
}

export async function planWithDeps(
  deps: PipelineDeps,
  env: EnvironmentRuntime,
  before: string,
  change: PackageChange,
  options: { style: ClosureStyle; rules: Partial<Rules>; timeout: number; progress?: (progress: Progress) => void },
): Promise<WithDepsPlan> {
  const root = setPackage(before, change);
  if (!root.ok) return { ok: false, kind: "edit", error: root.error };
  const first = withText(env, root.text, options.rules);
  if (!first.ok) return { ok: false, kind: "edit", error: `the edit would make the allowlist invalid: ${first.error}` };
  const parsed = parseRequirement(`${change.name}${change.specifier === "*" ? "" : change.specifier}`);
  if (!parsed.ok) return { ok: false, kind: "edit", error: parsed.message };
  const decision: Decision = await decide(parsed.requirement, first.env, deps.policyDeps);
  if (!decision.allowed) return { ok: false, kind: "denied", error: `${decision.name}: ${decision.reason}` };

  const tree = await treeOfDecision(
    deps,
    first.env,
    decision,
    parsed.requirement,
    { upgrade: false, timeout: options.timeout },
    { progress: options.progress },
  );
  if (!tree.ok)
    return {
      ok: false,
      kind: tree.status === "denied" ? "denied" : "failed",
      error: `the tree of ${decision.name} ${decision.version} could not be resolved: ${tree.message}`,
    };

  let text = root.text;
  const added: Array<ClosureEntry & { action: "added" | "updated" }> = [];
  for (const entry of closureEntries(tree.items, decision.name, first.env.allowlist, options.style)) {
    const edited = setPackage(text, { name: entry.name, specifier: entry.specifier, reason: entry.reason });
    if (!edited.ok) return { ok: false, kind: "edit", error: `${entry.name}: ${edited.error}` };
    if (edited.action === "unchanged" || edited.action === "removed") continue;
    text = edited.text;
    added.push({ ...entry, action: edited.action });
  }
  // The proof: the file as written, loaded as the server loads it, allows every distribution of the set.
  const final = withText(env, text, options.rules);
  if (!final.ok) return { ok: false, kind: "edit", error: `the edit would make the allowlist invalid: ${final.error}` };
  const refused = await judgeTree(deps, final.env, tree.items);
  if (refused.length > 0) {
    const names = refused.map((entry) => `${entry.name} ${entry.version}: ${entry.reason} [${entry.rule}]`).join("; ");
    return { ok: false, kind: "denied", error: `allowing is not enough, policy still refuses: ${names}`, refused };
  }
  return { ok: true, text, root, version: decision.version, added, resolved: tree.items.map((item) => ({ name: item.name, version: item.version })) };
}
