import type { Decision, RuleResult } from "./types.js";

const MARK: Record<RuleResult["outcome"], string> = { pass: "✓", fail: "✗", skip: "–" };

/**
 * Plain text both an agent and a person at a terminal can act on: the verdict first, then one line per
 * rule, then what to do instead.
 */
export function formatDecision(decision: Decision): string {
  const lines: string[] = [];
  if (decision.allowed) {
    lines.push(`allowed: ${decision.name} ${decision.version}`, `  ${decision.summary}`);
  } else {
    lines.push(`denied: ${decision.name}${decision.version === undefined ? "" : ` ${decision.version}`}: ${decision.reason}`);
  }
  for (const rule of decision.rules) lines.push(`  ${MARK[rule.outcome]} ${rule.rule}: ${rule.detail}`);
  if (!decision.allowed && decision.hint !== undefined) lines.push(`hint: ${decision.hint}`);
  return `${lines.join("\n")}\n`;
}
