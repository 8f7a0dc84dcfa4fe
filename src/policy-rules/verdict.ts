import { checkCondition } from "./conditions.js";
import type { ToolRules } from "./effective.js";

/** What the policy says about one call, before any quota: run it, refuse it, or hold it for a person. */
export type ToolVerdict = { action: "allow" } | { action: "deny"; rule: string; message: string } | { action: "approval"; rule: string; message: string };

/** The message of a refusal by the file's default, unchanged from before conditions existed. */
export function defaultDenyMessage(tool: string): string {
  return `the policy does not allow ${tool} (its default is deny and it names no limits for this tool); ask an operator to add it to the policy file`;
}

function ruleLabel(name: string | undefined, where: string): string {
  return name === undefined ? where : `"${name}" (${where})`;
}

/**
 * The verdict on one call: the tool's action, then every argument condition in order. Pure. Fail
 * closed and strictest first: a requirement not met whose action is deny refuses the call even when
 * another would only hold it; a held call is held whether the tool's action or a condition says so.
 */
export function toolVerdict(rules: ToolRules, tool: string, args: unknown): ToolVerdict {
  if (rules.kind === "open") return { action: "allow" };
  if (rules.kind === "default-deny") return { action: "deny", rule: "default", message: defaultDenyMessage(tool) };
  if (rules.action === "deny") {
    const rule = rules.actionWhere ?? `tools.${tool}.action`;
    return { action: "deny", rule, message: `refused by policy rule ${rule}: the policy refuses every call of ${tool}` };
  }
  let held: { rule: string; message: string } | undefined;
  for (const { condition, where } of rules.conditions) {
    const check = checkCondition(condition, args);
    if (check.met) continue;
    const rule = condition.name ?? where;
    if (condition.action === "deny") {
      return { action: "deny", rule, message: `refused by policy rule ${ruleLabel(condition.name, where)}: ${check.reason}` };
    }
    held ??= { rule, message: `held for approval by policy rule ${ruleLabel(condition.name, where)}: ${check.reason}` };
  }
  if (held !== undefined) return { action: "approval", ...held };
  if (rules.action === "approval") {
    const rule = rules.actionWhere ?? `tools.${tool}.action`;
    return { action: "approval", rule, message: `held for approval by policy rule ${rule}: every call of ${tool} waits for a person` };
  }
  return { action: "allow" };
}
