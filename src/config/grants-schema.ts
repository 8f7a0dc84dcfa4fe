import { z } from "zod";
import { TOOL_NAME, ToolPolicySchema } from "./policy-file-schema.js";

/** Grant names appear in audit records and rate-limit keys: identifiers only. */
export const GRANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * What a grant's holder is: an agent (the MCP endpoint's tools), an auditor (the console, read only) or an
 * approver (the console, and deciding queued installs there). Only auditors and approvers open the console.
 */
export const GRANT_ROLES = ["agent", "auditor", "approver"] as const;
export const GrantRoleSchema = z.enum(GRANT_ROLES);
export type GrantRole = z.infer<typeof GrantRoleSchema>;

/**
 * One grant: what a caller holding its token may touch. Tokens are stored only as sha256 hex
 * (`printf %s TOKEN | sha256sum`), so pipgate.yaml holds nothing that opens the server.
 */
export const GrantSchema = z.strictObject({
  environments: z
    .union([z.literal("*"), z.array(z.string().min(1)).min(1, 'list at least one environment, or "*" for all')])
    .default("*")
    .describe('the environments this grant may see and install into; "*" for all'),
  role: GrantRoleSchema.default("agent").describe(
    "agent: calls the MCP tools; auditor: reads the web console (pipgate console); approver: reads it and approves or denies queued installs there",
  ),
  token_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "token_sha256 is the token's sha256 as 64 lower-case hex digits (printf %s TOKEN | sha256sum); never the token itself")
    .optional()
    .describe("the HTTP bearer token's sha256; a grant without one is usable only as the stdio identity"),
  allowlist_overlay: z
    .string()
    .min(1)
    .optional()
    .describe("an allowlist file that narrows every environment's allowlist for this grant (relative to pipgate.yaml); it never widens one"),
  mode: z
    .enum(["enforce", "shadow"])
    .optional()
    .describe(
      "enforce (the default when absent) or shadow: this grant's installs are audited as would-deny where the allowlist or metadata rules refuse them, and go ahead",
    ),
  limits: z
    .record(z.string().regex(TOOL_NAME, "a tool name is 1-128 letters, digits, '_', '.' or '-'"), ToolPolicySchema)
    .optional()
    .describe(
      "tool → policy for this grant alone. Its limits and concurrency replace the policy file's for the tools it names; " +
        "its action and conditions only narrow: they are added to the file's (the stricter action wins), and a tool the file refuses stays refused",
    ),
});
export type Grant = z.infer<typeof GrantSchema>;

/** `grants:` of pipgate.yaml: grant name → grant. None means one implicit grant that may use every environment. */
export const GrantsSchema = z.record(z.string().regex(GRANT_NAME, "grant names are letters, digits, '_', '.' and '-'"), GrantSchema).default({});
export type Grants = z.infer<typeof GrantsSchema>;
