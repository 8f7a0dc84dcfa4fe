import { z } from "zod";
import { RULE_NAMES, type Decision, type RuleName } from "../policy/index.js";
import type { Requirement } from "../requirement/index.js";
import { normalizeName } from "../requirement/name.js";
import { requirers, type ResolvedItem } from "./pip-report.js";

/**
 * The whole-tree answer of a refused install or a resolving check: every distribution of the resolved
 * set that the environment's policy refuses, each with the chain that pulled it in and the rule that
 * refused it, and the one command that would allow what is missing. Pure: tested without a sandbox.
 */

/** One step of a chain: `name version` requires `requires` (the specifier as its metadata says it). */
export interface ChainLink {
  name: string;
  version: string;
  requires: string;
}

/** One refused distribution of a resolved set. */
export interface TreeRefusal {
  name: string;
  version: string;
  /** from the requested project down to this one; empty for the requested project itself */
  chain: ChainLink[];
  rule: RuleName;
  reason: string;
  /** whether allowing it (the allowlist command of the hint) is all it takes: no other rule refuses it */
  allowable: boolean;
}

export const ChainLinkSchema = z.object({ name: z.string(), version: z.string(), requires: z.string().describe("the requirement as its metadata states it") });

export const TreeRefusalSchema = z.object({
  name: z.string().describe("normalised project name"),
  version: z.string(),
  chain: z.array(ChainLinkSchema).describe("who requires it, from the requested project down"),
  rule: z.enum(RULE_NAMES).describe("the policy rule that refused it"),
  reason: z.string(),
  allowable: z.boolean().describe("true when allowing it on the allowlist is enough"),
});
export type TreeRefusalJson = z.infer<typeof TreeRefusalSchema>;

/** Longest chain reported: deeper trees are cut (the set is bounded by the report's 1000 entries anyway). */
const MAX_CHAIN = 32;

/**
 * The shortest chain from a requested distribution down to `name`, by the requirements each resolved
 * distribution declares (pip's report). Empty when `name` was itself requested or nothing names it.
 */
export function chainOf(items: readonly ResolvedItem[], name: string): ChainLink[] {
  const target = normalizeName(name);
  const start = items.find((item) => item.name === target);
  if (start === undefined || start.requested) return [];
  // Breadth-first upward: from the refused one to any requested item, each step one requirer.
  const seen = new Set([target]);
  let frontier: Array<{ name: string; links: ChainLink[] }> = [{ name: target, links: [] }];
  while (frontier.length > 0) {
    const next: typeof frontier = [];
    for (const node of frontier) {
      for (const { item, requirement } of requirers(items, node.name)) {
        const links = [{ name: item.name, version: item.version, requires: requirement }, ...node.links];
        if (item.requested || links.length >= MAX_CHAIN) return links;
        if (seen.has(item.name)) continue;
        seen.add(item.name);
        next.push({ name: item.name, links });
      }
    }
    frontier = next;
  }
  return [];
}

/** A chain as a person reads it: "requests 2.32.3 requires idna<4,>=2.5". */
export function formatChain(chain: readonly ChainLink[]): string {
  return chain.map((link) => `${link.name} ${link.version} requires ${link.requires}`).join(", which ");
}

/** One word for the shell: quoted unless it is plainly safe. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9._/=:@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command that allows the missing part of a tree: the root at its current specifier, its closure with pins. */
export function allowCommand(root: { name: string; specifier: string }, environment: string): string {
  const spec = root.specifier === "" ? "*" : root.specifier;
  return `pipgate allowlist add ${shellWord(root.name)} ${shellWord(spec)} --with-deps --env ${shellWord(environment)}`;
}

/**
 * The refusal of a whole tree: one message naming every refused distribution, and the hint. The hint
 * carries the allowlist command when allowing is enough for every one; otherwise it names those the
 * allowlist cannot fix (deny list, vulnerabilities, age…), which need another version or an exemption.
 */
export function treeRefusalText(
  root: { name: string; version: string; specifier: string },
  environment: string,
  refused: readonly TreeRefusal[],
): { message: string; hint: string } {
  const lines = refused.map((entry) => {
    const via = entry.chain.length === 0 ? "" : ` (${formatChain(entry.chain)})`;
    return `  - ${entry.name} ${entry.version}${via}: ${entry.reason} [${entry.rule}]`;
  });
  const count = refused.length === 1 ? "1 distribution" : `${refused.length} distributions`;
  const message = `refused: ${root.name} ${root.version} needs ${count} that environment ${environment} does not allow:\n${lines.join("\n")}`;
  const blocked = refused.filter((entry) => !entry.allowable);
  const command = allowCommand(root, environment);
  if (blocked.length === 0) {
    return { message, hint: `a maintainer can allow the whole tree with pins in one step: ${command}; then the same install succeeds` };
  }
  const names = blocked.map((entry) => `${entry.name} ${entry.version} (${entry.rule})`).join(", ");
  const rest = blocked.length === refused.length ? "" : `; the others can be allowed with ${command}`;
  return { message, hint: `allowing is not enough for ${names}: ask for another version of ${root.name}, or an exemption${rest}` };
}

/** The refusals as MCP structured output and `--json` print them. */
export function treeRefusalsToJson(refused: readonly TreeRefusal[]): TreeRefusalJson[] {
  return refused.map((entry) => ({
    name: entry.name,
    version: entry.version,
    chain: entry.chain.map((link) => ({ ...link })),
    rule: entry.rule,
    reason: entry.reason,
    allowable: entry.allowable,
  }));
}

/** check_package's `tree` (resolve: true): the resolved set, what policy refuses in it, and what to do. */
export const TreeCheckSchema = z.object({
  allowed: z.boolean().describe("every distribution of the resolved set passes policy"),
  resolved: z.array(z.object({ name: z.string(), version: z.string() })).describe("the set the install would resolve to (empty when it could not be resolved)"),
  refused: z.array(TreeRefusalSchema),
  message: z.string(),
  hint: z.string().optional().describe("the one command that would allow what is missing, when allowing is enough"),
});
export type TreeCheckJson = z.infer<typeof TreeCheckSchema>;

/** The tree part of a check, as JSON and as text, from the resolved set and its refusals. */
export function treeCheckAnswer(
  root: { name: string; version: string; specifier: string },
  environment: string,
  items: ReadonlyArray<{ name: string; version: string }>,
  refused: readonly TreeRefusal[],
): { json: TreeCheckJson; text: string } {
  const resolved = items.map((item) => ({ name: item.name, version: item.version }));
  if (refused.length === 0) {
    const list = resolved.map((item) => `${item.name} ${item.version}`).join(", ");
    const message = `tree: allowed, all ${resolved.length} distribution(s) of the resolved set pass policy: ${list}`;
    return { json: { allowed: true, resolved, refused: [], message }, text: message };
  }
  const { message, hint } = treeRefusalText(root, environment, refused);
  return { json: { allowed: false, resolved, refused: treeRefusalsToJson(refused), message, hint }, text: `tree: ${message}\nhint: ${hint}` };
}

/**
 * A refusal of the named project for not being on the allowlist: the command that allows it together
 * with everything it needs, so the next install succeeds in one call (not one name at a time).
 */
export function unlistedHint(decision: Decision, requirement: Requirement, environment: string): string | undefined {
  if (decision.allowed) return undefined;
  // Never for a lookalike of another name (a typosquat is not something to allow in one step).
  const failed = decision.rules.filter((rule) => rule.outcome === "fail");
  if (decision.suggestion !== undefined || failed.length !== 1 || failed[0]?.rule !== "allowlist") return undefined;
  const command = allowCommand({ name: decision.name, specifier: requirement.specifier }, environment);
  return `a maintainer can allow it with everything it needs in one step: ${command}`;
}
