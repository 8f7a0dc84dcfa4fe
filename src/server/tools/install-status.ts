import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import type { Approval } from "../../approvals/index.js";
import type { ApprovalQueue } from "../../pipeline/approval-queue.js";
import { APPROVAL_STATES } from "../../approvals/index.js";
import { SetDistSchema } from "../../approvals/resolved-set.js";
import { refuseAndAudit, structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { admitted } from "../admitted.js";
import { refusalOnly } from "../refusal.js";

export const InstallStatusOutputSchema = z.object({
  approval_id: z.string().describe("the approval id, as install_package answered it"),
  id: z.string().describe("the same id, under its earlier name"),
  state: z
    .enum(APPROVAL_STATES)
    .describe("pending, then rejected | expired, or approved (scheduled first when approved on another broker of a fleet) and then the install's own outcome"),
  environment: z.string(),
  package: z.string(),
  requirement: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  decided_by: z.string().optional(),
  decision_reason: z.string().optional(),
  set: z
    .array(SetDistSchema.omit({ path: true }))
    .describe(
      "every distribution the approval is for, and the only ones the approved install may install: its wheel's sha256, the index file it came from, each rule's result",
    )
    .optional(),
  supersedes: z.string().optional().describe("the earlier approval whose set changed before it ran"),
  result: z
    .object({
      status: z.string(),
      message: z.string(),
      version: z.string().optional(),
      installed: z.array(z.object({ name: z.string(), version: z.string() })),
      audit_id: z.string(),
      superseded_by: z.string().optional().describe("superseded: the new request for the set as it resolves now; poll that id"),
    })
    .optional()
    .describe("what the approved install did"),
  message: z.string(),
});

const APPROVAL_ID = /^apr_[a-z0-9]{10}$/;
const ID_ERROR = "approval_id must be the approval id install_package answered with (apr_…)";

/** `approval_id` is the name install_package answers with; `id`, the earlier name, stays an alias. */
const ArgumentsSchema = z
  .strictObject({
    approval_id: z.string({ error: ID_ERROR }).regex(APPROVAL_ID, ID_ERROR).optional(),
    id: z.string({ error: ID_ERROR }).regex(APPROVAL_ID, ID_ERROR).optional(),
  })
  .refine((args) => args.approval_id !== undefined || args.id !== undefined, {
    error: "install_status takes { approval_id }: the id install_package answered with (apr_…)",
  })
  .refine((args) => args.approval_id === undefined || args.id === undefined || args.approval_id === args.id, {
    error: "approval_id and id name different requests; give approval_id alone",
  })
  .transform((args) => ({ approvalId: args.approval_id ?? args.id ?? "" }));

function describe(approval: Approval): string {
  switch (approval.state) {
    case "pending":
      return `${approval.request.requirement} waits for approval until ${approval.expiresAt.toISOString()}; poll again later`;
    case "scheduled":
      return `${approval.decidedBy ?? "someone"} approved ${approval.request.requirement}; the install runs on the broker that queued it as soon as that broker takes it`;
    case "approved":
      return `${approval.decidedBy ?? "someone"} approved ${approval.request.requirement}; the install is running`;
    case "rejected":
      return `${approval.decidedBy ?? "someone"} denied ${approval.request.requirement}: ${approval.decisionReason ?? "no reason given"}`;
    case "expired":
      return `${approval.request.requirement} expired undecided at ${approval.expiresAt.toISOString()}; ask again if it is still needed`;
    case "superseded":
      return `approved by ${approval.decidedBy ?? "someone"}, but the set changed before it ran; it waits for approval again as ${approval.result?.superseded_by ?? "a new request"}: poll that id`;
    case "installed":
    case "already-satisfied":
    case "denied":
    case "failed":
    case "timed-out":
      return `approved by ${approval.decidedBy ?? "someone"}; ${approval.result?.message ?? approval.state}`;
  }
}

/** An approval as install_status answers it; the CLI's `approvals --json` prints the same shape. */
export function approvalStatusJson(approval: Approval): z.infer<typeof InstallStatusOutputSchema> {
  return {
    approval_id: approval.id,
    id: approval.id,
    state: approval.state,
    environment: approval.environment,
    package: approval.package,
    requirement: approval.request.requirement,
    created_at: approval.createdAt.toISOString(),
    expires_at: approval.expiresAt.toISOString(),
    ...(approval.decidedBy === undefined ? {} : { decided_by: approval.decidedBy }),
    ...(approval.decisionReason === undefined ? {} : { decision_reason: approval.decisionReason }),
    ...(approval.request.set === undefined ? {} : { set: approval.request.set.map(({ path: _path, ...dist }) => dist) }),
    ...(approval.request.supersedes === undefined ? {} : { supersedes: approval.request.supersedes }),
    ...(approval.result === undefined ? {} : { result: approval.result }),
    message: describe(approval),
  };
}

/** install_status: how a queued install stands, for the agent that asked (read-only, nothing audited but refusals). */
export function registerInstallStatus(server: ToolRegistry, deps: ServerDeps, queue: ApprovalQueue): void {
  server.registerTool(
    "install_status",
    {
      title: "Status of a queued install",
      description:
        "Look up an install_package request that was queued for a person's approval, by the id install_package answered with: " +
        "pending, rejected, expired, or the approved install's outcome. Pass { approval_id }.",
      inputSchema: z
        .looseObject({
          approval_id: z
            .unknown()
            .optional()
            .meta({ type: "string", pattern: APPROVAL_ID.source, description: "the approval id install_package answered with (apr_…)" }),
          id: z
            .unknown()
            .optional()
            .meta({ type: "string", pattern: APPROVAL_ID.source, description: "deprecated: the earlier name of approval_id, still accepted" }),
        })
        .meta({ required: ["approval_id"], additionalProperties: false }),
      outputSchema: InstallStatusOutputSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    admitted(deps, "install_status", async (raw: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const parsed = ArgumentsSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const key = issue?.code === "unrecognized_keys" ? issue.keys[0] : issue?.path[0];
        const message =
          issue?.code === "unrecognized_keys"
            ? `install_status has no argument ${JSON.stringify(key)}; it takes approval_id`
            : (issue?.message ?? "install_status takes { approval_id }");
        return refuseAndAudit(deps, { identity, tool: "install_status", outcome: "invalid", arguments: raw }, message, {
          kind: "type",
          field: typeof key === "string" ? key : "approval_id",
          shape: refusalOnly,
        });
      }
      const { approvalId } = parsed.data;
      const approval = await queue.status(identity, approvalId);
      if (approval === undefined) {
        return refuseAndAudit(
          deps,
          { identity, tool: "install_status", outcome: "invalid", arguments: raw },
          `no approval request ${approvalId} of yours; use the approval_id install_package answered with`,
          {
            kind: "unknown-approval",
            field: "approval_id",
            shape: refusalOnly,
          },
        );
      }
      const json = approvalStatusJson(approval);
      return structuredResult(`${approval.id}: ${json.state} — ${json.message}`, json);
    }),
  );
}
