import { z } from "zod";
import { ConditionSchema, ToolActionSchema } from "./policy-conditions-schema.js";

/**
 * pipgate's own tools. Without a gateway these are the only names a policy may use (anything else is a
 * typo that would silently limit nothing); in gateway mode other names are upstream tools, checked
 * against the upstream's list once it is known (see unknownPolicyTools in policy-tools.ts).
 */
export const POLICY_TOOLS = [
  "install_package",
  "check_package",
  "list_environments",
  "list_installed_packages",
  "list_allowed_packages",
  "install_status",
] as const;

export const WINDOW_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type WindowName = keyof typeof WINDOW_MS;

/** One sliding window: at most `max` admitted calls in any `window`-long span, counted per scope. */
export const LimitSchema = z.strictObject({
  counter: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "a counter name is 1-64 letters, digits, '_', '.' or '-'")
    .describe("the counter's name; limits (of any tool) that name the same counter share its events"),
  window: z.enum(["minute", "hour", "day"]).describe("the sliding window's length"),
  max: z.number().int().min(1).max(1_000_000).describe("the most calls admitted in any window-long span"),
  scope: z
    .enum(["grant", "environment", "grant+environment"])
    .default("grant")
    .describe("what is counted separately: each grant, each environment, or each grant in each environment"),
});
export type Limit = z.infer<typeof LimitSchema>;

/** What a tool name in a policy (or a grant's limits) may look like, in gateway mode too. */
export const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** What a policy says about one tool: whether it runs, the requirements on its arguments, its windows and concurrency. */
export const ToolPolicySchema = z.strictObject({
  // both optional rather than defaulted, so a policy built in code (a grant's, a test's) may leave them out
  action: ToolActionSchema.optional().describe("allow (the default), deny or approval"),
  conditions: z
    .array(ConditionSchema)
    .max(64)
    .optional()
    .describe("requirements on the call's arguments, each checked on every call before any quota is spent; absent or empty requires nothing"),
  limits: z.array(LimitSchema).default([]).describe("every window must admit a call; an empty list limits nothing"),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe(
      "the most calls of this tool one grant may have running at once (per server process on the embedded store, across the fleet on a shared database)",
    ),
});
export type ToolPolicy = z.infer<typeof ToolPolicySchema>;

/** When an install waits for a person instead of being refused or run at once. */
export const ApprovalPolicySchema = z.strictObject({
  unlisted: z.boolean().default(false).describe("a name off the allowlist is queued for approval instead of refused (the deny list still refuses)"),
  sdists: z.boolean().default(false).describe("an allowed release that has no wheel (it would be built from an sdist) is queued"),
  expires_after_hours: z
    .number()
    .positive()
    .max(24 * 30)
    .default(24)
    .describe("a request nobody decided by then expires"),
  environments: z.array(z.string().min(1)).optional().describe("the environments where approval applies; all when absent"),
  elicitation: z
    .boolean()
    .default(false)
    .describe(
      "when the client supports MCP elicitation, ask its user to confirm the resolved set in the client instead of waiting for the CLI " +
        "(a yes/no question, never a secret; audited as the grant's identity via elicitation). Only where a person answers the client's questions",
    ),
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicySchema>;

const toolName = z
  .string()
  .regex(TOOL_NAME, "a tool name is 1-128 letters, digits, '_', '.' or '-'")
  .describe(`one of pipgate's tools (${POLICY_TOOLS.join(", ")}), or in gateway mode an upstream tool's name`);

/**
 * The policy file (JSON or YAML). The seed format `{"version": "1", "default": "deny", "tools":
 * {"install_package": {"limits": [...]}}}` is accepted as is. Fail closed: `default` is "deny" when
 * absent, so a tool the file does not name is refused.
 */
export const PolicySchema = z.strictObject({
  version: z.literal("1", { error: 'version must be "1"' }).describe("the policy format's version"),
  default: z.enum(["deny", "allow"]).default("deny").describe("what happens to a tool the file does not name: deny refuses it, allow runs it without limits"),
  tools: z
    .record(toolName, ToolPolicySchema)
    .default({})
    .describe(
      "tool name → its action (allow when absent), argument conditions, limits and concurrency; naming a tool allows it unless its action says otherwise",
    ),
  approval: ApprovalPolicySchema.optional().describe("which installs wait for a person (pipgate approvals)"),
});
export type Policy = z.infer<typeof PolicySchema>;

/** What running without a policy file means: every tool allowed, nothing limited, nothing queued. */
export const OPEN_POLICY: Policy = { version: "1", default: "allow", tools: {} };
