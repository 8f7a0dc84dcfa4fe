import { nearestKey, unknownKeyMessage } from "./issues.js";
import { POLICY_TOOLS, type Policy } from "./policy-file-schema.js";
import type { Grants } from "./grants-schema.js";
import { PROMPTS_TOOL, RESOURCES_TOOL } from "./upstream-schema.js";

/**
 * Tool names in a policy file or a grant's `limits` that no server offers would silently limit nothing.
 * Without a gateway pipgate's own tools are all there is, so any other name is an error at load time
 * (fail closed). In gateway mode the upstream's tools are unknown until it answers tools/list, so a
 * name is accepted if it is well-formed, and `unknownPolicyTools` reports the strays once they are known.
 */

/** `path.NAME: unknown key; did you mean …?` for each key of a raw `tools`/`limits` object that is not pipgate's, unless a gateway is configured. */
export function toolNameIssues(raw: unknown, path: string, options: { gateway: boolean }): string[] {
  if (options.gateway || typeof raw !== "object" || raw === null || Array.isArray(raw)) return [];
  const own: readonly string[] = POLICY_TOOLS;
  return Object.keys(raw)
    .filter((name) => !own.includes(name))
    .map((name) => `${path}.${name}: ${unknownKeyMessage(name, own)}`);
}

/** A tool named in the policy (or a grant) that neither pipgate nor the upstream offers, with the nearest known name. */
export interface UnknownPolicyTool {
  tool: string;
  /** where it is named: tools.NAME, or grants.G.limits.NAME */
  where: string;
  suggestion?: string;
}

/**
 * The tools a policy names that are not among `knownTools` (pipgate's own are always known). Pure:
 * the integrator calls it when the upstream's tools are known and logs a warning per entry;
 * `pipgate doctor` prints them.
 */
export function unknownPolicyTools(policy: Policy, knownTools: readonly string[], grants: Grants = {}): UnknownPolicyTool[] {
  const known = [...new Set([...POLICY_TOOLS, RESOURCES_TOOL, PROMPTS_TOOL, ...knownTools])];
  const named: Array<{ tool: string; where: string }> = [
    ...Object.keys(policy.tools).map((tool) => ({ tool, where: `tools.${tool}` })),
    ...Object.entries(grants).flatMap(([grant, entry]) => Object.keys(entry.limits ?? {}).map((tool) => ({ tool, where: `grants.${grant}.limits.${tool}` }))),
  ];
  return named
    .filter(({ tool }) => !known.includes(tool))
    .map(({ tool, where }) => {
      const suggestion = nearestKey(tool, known);
      return suggestion === undefined ? { tool, where } : { tool, where, suggestion };
    });
}

/**
 * Whether a configuration fronts an upstream (`upstream:` in pipgate.yaml): read structurally, so this
 * module does not depend on where the upstream schema lives.
 */
export function gatewayConfigured(config: object): boolean {
  const upstream = (config as { upstream?: unknown }).upstream;
  return upstream !== undefined && upstream !== null;
}
