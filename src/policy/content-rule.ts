import type { ContentRules } from "../config/allowlist-schema.js";
import type { Decision, RuleResult } from "./types.js";

/** A content signal as the wheel inspection reports it (src/verify/content-signals.ts), with its action. */
export interface ContentFinding {
  kind: string;
  detail: string;
  action: "deny" | "warn";
}

/**
 * The content rule before any wheel is in hand (check_package, the policy stage): the signals are read
 * from the wheels' files at install, so here the rule only says what each signal would do.
 */
export function contentPlaceholder(actions: ContentRules): RuleResult {
  const list = Object.entries(actions)
    .map(([kind, action]) => `${kind} ${action}`)
    .join(", ");
  return { rule: "content", outcome: "skip", detail: `judged from the wheels' files at install (rules.content: ${list})` };
}

/** The content rule once the wheels were inspected: fail on a denied signal, pass (naming warnings) otherwise. */
export function contentResult(findings: readonly ContentFinding[], wheels: number): RuleResult {
  const denied = findings.filter((finding) => finding.action === "deny");
  if (denied.length > 0) return { rule: "content", outcome: "fail", detail: denied.map((f) => `${f.detail} (rules.content.${f.kind}: deny)`).join("; ") };
  const warned = findings.filter((finding) => finding.action === "warn");
  if (warned.length > 0)
    return { rule: "content", outcome: "pass", detail: `warn: ${warned.map((f) => `${f.detail} (rules.content.${f.kind}: warn)`).join("; ")}` };
  return { rule: "content", outcome: "pass", detail: `no content signals in ${wheels} wheel${wheels === 1 ? "" : "s"}` };
}

/** The decision with its content rule replaced by what the inspection found, for the result and the audit record. */
export function withContentRule<D extends Decision>(decision: D, findings: readonly ContentFinding[], wheels: number): D {
  const result = contentResult(findings, wheels);
  const rules = decision.rules.some((rule) => rule.rule === "content")
    ? decision.rules.map((rule) => (rule.rule === "content" ? result : rule))
    : [...decision.rules, result];
  return { ...decision, rules };
}
