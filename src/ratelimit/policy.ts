import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { formatIssues } from "../config/issues.js";
import { errorMessage } from "../errors.js";
import { OPEN_POLICY, PolicySchema, type Policy } from "./policy-schema.js";

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; issues: string[] };

/** Reads the policy file named by pipgate.yaml's `policy:`; no file means OPEN_POLICY (no limits). */
export function loadPolicy(path: string | undefined): PolicyResult {
  if (path === undefined) return { ok: true, policy: OPEN_POLICY };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, issues: [`${path}: cannot read the policy: ${errorMessage(error)}`] };
  }
  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON: one parser reads both forms.
    raw = parseYaml(text);
  } catch (error) {
    return { ok: false, issues: [`${path}: neither JSON nor YAML: ${errorMessage(error)}`] };
  }
  return parsePolicy(raw, path);
}

/** The pure half of loadPolicy: one `path: message` line per problem. */
export function parsePolicy(raw: unknown, source: string): PolicyResult {
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: formatIssues(parsed.error, `${source}: `) };
  return { ok: true, policy: parsed.data };
}
