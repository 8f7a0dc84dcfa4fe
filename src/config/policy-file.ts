import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { fileFingerprint } from "./file-fingerprint.js";
import { formatIssues } from "./issues.js";
import { errorMessage } from "../errors.js";
import { OPEN_POLICY, PolicySchema, type Policy } from "./policy-file-schema.js";
import { toolNameIssues } from "./policy-tools.js";

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; issues: string[] };

/** Whether pipgate.yaml configures an upstream: then a policy may name tools beyond pipgate's own. */
export interface PolicyOptions {
  gateway: boolean;
}

const NO_GATEWAY: PolicyOptions = { gateway: false };

/** Reads the policy file named by pipgate.yaml's `policy:`; no file means OPEN_POLICY (no limits). */
export function loadPolicy(path: string | undefined, options: PolicyOptions = NO_GATEWAY): PolicyResult {
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
  return parsePolicy(raw, path, options);
}

/** The pure half of loadPolicy: one `path: message` line per problem. */
export function parsePolicy(raw: unknown, source: string, options: PolicyOptions = NO_GATEWAY): PolicyResult {
  const parsed = PolicySchema.safeParse(raw);
  const tools = typeof raw === "object" && raw !== null ? (raw as { tools?: unknown }).tools : undefined;
  const names = toolNameIssues(tools, "tools", options).map((issue) => `${source}: ${issue}`);
  if (!parsed.success) return { ok: false, issues: [...formatIssues(parsed.error, `${source}: `, PolicySchema), ...names] };
  if (names.length > 0) return { ok: false, issues: names };
  return { ok: true, policy: parsed.data };
}

/** A policy file followed while the server runs. */
export interface WatchedPolicy {
  /** The policy in force: reloaded when the file changed, the last good one kept when an edit is invalid. */
  current(): Policy;
  /** Why the last edit was not taken, if it was not. */
  error(): string | undefined;
}

/**
 * Limits are edited while agents are connected: every admission checks the file's inode, mtime and
 * size, and an edit that does not parse is logged and ignored (the previous limits stay in force).
 */
export function watchPolicy(
  path: string | undefined,
  initial: Policy,
  onError: (issues: string[]) => void = () => undefined,
  options: PolicyOptions = NO_GATEWAY,
): WatchedPolicy {
  let policy = initial;
  let lastError: string | undefined;
  let seen = path === undefined ? "" : fileFingerprint(path);
  return {
    current() {
      if (path === undefined) return policy;
      const now = fileFingerprint(path);
      if (now === seen) return policy;
      seen = now;
      const loaded = loadPolicy(path, options);
      if (loaded.ok) {
        policy = loaded.policy;
        lastError = undefined;
      } else {
        lastError = loaded.issues.join("; ");
        onError(loaded.issues);
      }
      return policy;
    },
    error: () => lastError,
  };
}
