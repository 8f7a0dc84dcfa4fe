import type { Condition, ToolAction } from "../config/policy-conditions-schema.js";
import type { Limit, Policy, ToolPolicy } from "../config/policy-file-schema.js";

/** A condition with the id a refusal names it by: its `name`, else where it stands in the file. */
export interface PlacedCondition {
  condition: Condition;
  /** tools.<tool>.conditions[<i>] or grants.<grant>.limits.<tool>.conditions[<i>] */
  where: string;
}

/** What the policy says about one tool for one identity, once the file's entry and the grant's are combined. */
export type ToolRules =
  | { kind: "open" } // the file does not name it and its default is allow; no grant entry either
  | { kind: "default-deny" } // the file does not name it and its default is deny
  | {
      kind: "named";
      action: ToolAction;
      /** where the action in force was written (for a refusal); undefined when it is the implicit allow */
      actionWhere: string | undefined;
      conditions: PlacedCondition[];
      limits: Limit[];
      concurrency: number | undefined;
    };

const SEVERITY: Readonly<Record<ToolAction, number>> = { allow: 0, approval: 1, deny: 2 };

function place(entry: ToolPolicy, base: string): PlacedCondition[] {
  return (entry.conditions ?? []).map((condition, i) => ({ condition, where: `${base}.conditions[${i}]` }));
}

/**
 * Combines the policy file's entry for a tool with the grant's own. Limits and concurrency: the grant's
 * entry replaces the file's (as it always has). Action and conditions only narrow: the stricter action
 * wins (deny > approval > allow) and the grant's conditions are added to the file's — a grant can hold
 * or refuse more calls, never let through one the file refuses. A tool the file refuses by its default
 * stays refused whatever a grant names; under a default of allow a grant's entry applies as written.
 */
export function toolRules(
  policy: Policy,
  tool: string,
  grant?: { name: string; tools: Readonly<Record<string, ToolPolicy | undefined>> | undefined },
): ToolRules {
  const fileEntry = Object.hasOwn(policy.tools, tool) ? policy.tools[tool] : undefined;
  const grantEntry = grant?.tools !== undefined && Object.hasOwn(grant.tools, tool) ? grant.tools[tool] : undefined;
  if (fileEntry === undefined && policy.default === "deny") return { kind: "default-deny" };
  if (fileEntry === undefined && grantEntry === undefined) return { kind: "open" };

  const fileBase = `tools.${tool}`;
  const grantBase = `grants.${grant?.name ?? "-"}.limits.${tool}`;
  let action: ToolAction = "allow";
  let actionWhere: string | undefined;
  for (const [entry, base] of [
    [fileEntry, fileBase],
    [grantEntry, grantBase],
  ] as const) {
    const own = entry?.action;
    if (own !== undefined && SEVERITY[own] > SEVERITY[action]) {
      action = own;
      actionWhere = `${base}.action`;
    }
  }
  const limitsFrom = grantEntry ?? fileEntry;
  return {
    kind: "named",
    action,
    actionWhere,
    conditions: [...(fileEntry === undefined ? [] : place(fileEntry, fileBase)), ...(grantEntry === undefined ? [] : place(grantEntry, grantBase))],
    limits: limitsFrom?.limits ?? [],
    concurrency: limitsFrom?.concurrency,
  };
}
